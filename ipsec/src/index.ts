import { backendModule, defineBackend, type BackendDescriptor } from '@flannel-ts/core';
import { IpsecBackend, type IpsecBackendOptions } from './ipsec-backend.js';

export { DEFAULT_ESP_PROPOSAL, MIN_PSK_LENGTH, parseIpsecConfig, type IpsecConfig } from './config.js';
export { IpsecSecret } from './secret.js';
export { CHARON_PATHS, charonConf, findCharon, spawnCharon, type CharonInstance, type CharonLauncher } from './charon.js';
export { childName, connName, connSection, Connections, IKE_PROPOSAL } from './connections.js';
export { IpsecDataplane, peerPolicies, readPeer, type IpsecPeer } from './ipsec-dataplane.js';
export { REQID, XfrmPolicyEntry } from './policy-entry.js';
export { readSas, viciSession, type IkeSaState, type IkeSession } from './ike.js';
export { IpsecBackend, OVERHEAD, UDP_ENCAP_OVERHEAD, type IpsecBackendOptions } from './ipsec-backend.js';

/** A descriptor whose backends start charon as `opts` says (the tests' fake charon); `backend` is the real one. */
export function ipsecBackend(opts: IpsecBackendOptions = {}): BackendDescriptor {
  return defineBackend({
    name: 'ipsec',
    // The contract it was built against, as a literal (docs/writing-a-backend.md): 1.4 added XFRM policies.
    contractVersion: '1.4',
    create: (ctx) => new IpsecBackend(ctx, opts),
  });
}

/**
 * The ipsec backend: pod traffic between nodes in ESP tunnels, keyed by strongSwan's charon (IKEv2, a PSK
 * shared by the cluster) over VICI, with three XFRM policies per peer; Go flannel's connection names, reqid
 * and proposals. IPv4 only.
 */
export const backend = ipsecBackend();

/** Registers this backend with flanneld's backend registry. */
export const containerModule = backendModule(backend);

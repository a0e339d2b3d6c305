import { backendModule, BACKEND_CONTRACT_VERSION, defineBackend, removeLinks } from '@flannel-ts/core';
import { VxlanBackend } from './vxlan-backend.js';

export { parseVxlanConfig, type VxlanConfig } from './config.js';
export { readPeer, type VxlanPeer } from './peer.js';
export { peerEntries, type PeerTarget } from './peer-entries.js';
export { VxlanDataplane } from './vxlan-dataplane.js';
export { deviceName, VxlanBackend } from './vxlan-backend.js';

/** The vxlan backend: flannel.<VNI>, one neighbour + FDB entry + route per peer. */
export const backend = defineBackend({
  name: 'vxlan',
  contractVersion: BACKEND_CONTRACT_VERSION,
  create: (ctx) => new VxlanBackend(ctx),
  cleanup: ({ netlink, dryRun }) => removeLinks(netlink, /^flannel(-v6)?\.\d+$/, dryRun),
});

/** Registers this backend with flanneld's backend registry. */
export const containerModule = backendModule(backend);

import type { Dataplane, IP, IPNet, KernelEntry, KernelWatch, Lease, Netlink, NetworkConfig, PeerPlan } from '@flannel-ts/core';
import type { NetlinkEvent } from '@flannel-ts/core/netlink';
import { REQID, XfrmPolicyEntry } from './policy-entry.js';
import { xfrmPolicyList, type XfrmPolicy } from './xfrm.js';

/** What one peer's lease means to this backend: where it is, and the subnet behind it. */
export interface IpsecPeer {
  publicIP: IP;
  subnet: IPNet;
}

/** A peer lease read as untrusted input: an ipsec lease with an IPv4 subnet and an IPv4 PublicIP, or what is wrong. */
export function readPeer(lease: Lease): IpsecPeer | { problem: string } {
  if (lease.attrs.backendType !== 'ipsec') return { problem: `BackendType is ${JSON.stringify(lease.attrs.backendType ?? '')}, not "ipsec"` };
  if (!lease.subnet) return { problem: 'no IPv4 subnet (the ipsec backend carries IPv4 only)' };
  const ip = lease.attrs.publicIP;
  if (!ip || ip.family !== 4) return { problem: 'no IPv4 PublicIP' };
  return { publicIP: ip, subnet: lease.subnet };
}

/**
 * Go flannel's three policies per peer, reqid 11, ESP in tunnel mode between the two public addresses:
 * out (our subnet to theirs), in and fwd (theirs to ours). No route: traffic follows the node's routing,
 * and the policies hand it to the SAs charon negotiates.
 */
export function peerPolicies(ours: IpsecPeer, peer: IpsecPeer): XfrmPolicy[] {
  const tmpl = (src: IP, dst: IP) => [{ src, dst, proto: 'esp' as const, mode: 'tunnel' as const, reqid: REQID }];
  return [
    { src: ours.subnet, dst: peer.subnet, dir: 'out', tmpls: tmpl(ours.publicIP, peer.publicIP) },
    { src: peer.subnet, dst: ours.subnet, dir: 'in', tmpls: tmpl(peer.publicIP, ours.publicIP) },
    { src: peer.subnet, dst: ours.subnet, dir: 'fwd', tmpls: tmpl(peer.publicIP, ours.publicIP) },
  ];
}

/**
 * The ipsec backend's part of reconciliation: a peer lease becomes its three XFRM policies; ours in the
 * kernel are the policies between our subnet and another subnet of the network. There is no device. The
 * kernel announces a deleted policy (`ip xfrm monitor policy`), so one deleted by hand is put back at once;
 * a flush of the whole database asks for a full resync. Our own batches' 'new' notifications are dropped
 * undecoded.
 */
export class IpsecDataplane implements Dataplane {
  readonly watch: KernelWatch = {
    topics: ['xfrm-policy'],
    deletionsOnly: ['xfrm-policy'],
    classify: (ev) => this.classify(ev),
  };

  constructor(
    private readonly nl: Netlink,
    private readonly ours: IpsecPeer,
    private readonly config: NetworkConfig,
  ) {}

  planPeer(lease: Lease): PeerPlan {
    const peer = readPeer(lease);
    if ('problem' in peer) return { entries: [], problems: [peer.problem] };
    return { entries: peerPolicies(this.ours, peer).map((p) => new XfrmPolicyEntry(p)), problems: [] };
  }

  async readKernel(): Promise<KernelEntry[]> {
    const policies = await xfrmPolicyList(this.nl, 4);
    return policies.filter((p) => this.isOurs(p)).map((p) => new XfrmPolicyEntry(p));
  }

  /** Nothing of ours is a device; charon is looked after by the backend's own supervisor. */
  async ensureDevices(): Promise<boolean> {
    return false;
  }

  /**
   * A policy between our subnet and another subnet of the network, in the direction our policies take it:
   * ours to manage (and to prune when no lease wants it). Anything else (charon's socket bypasses, an
   * operator's own policies) is left alone.
   */
  private isOurs(p: XfrmPolicy): boolean {
    const net = this.config.network;
    // A policy with a mark is someone else's (ours have none), even over our selector.
    if (!net || (p.mark && (p.mark.value || p.mark.mask))) return false;
    const [local, remote] = p.dir === 'out' ? [p.src, p.dst] : [p.dst, p.src];
    return local.equals(this.ours.subnet) && !remote.equals(this.ours.subnet) && net.contains(remote.ip) && remote.prefixLen >= net.prefixLen;
  }

  private classify(ev: NetlinkEvent): { deleted: string } | { resync: string } | undefined {
    if (ev.topic !== 'xfrm-policy') return undefined;
    if (ev.action === 'flush') return { resync: 'the XFRM policies were flushed' };
    if (ev.action === 'del' && this.isOurs(ev.policy)) return { deleted: new XfrmPolicyEntry(ev.policy).key };
    return undefined;
  }
}

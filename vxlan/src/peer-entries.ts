import { fdbEntry, neighEntry, nexthopEntry, routeEntry, type KernelEntry } from '@flannel-ts/core';
import type { Link } from '@flannel-ts/core/netlink';
import type { VxlanPeer } from './peer.js';

/**
 * The device peers of one family are programmed on, and whether routes go through nexthop objects. The
 * kernel hashes plain routes by device and not by gateway, so N `via <distinct gw>` routes make each
 * insert walk N entries (5,000 peers: 30 µs per route, growing); one nexthop object per peer keeps inserts
 * constant (about 5 µs). `ip route` still shows `via <subnet.0> dev flannel.1 onlink`, plus `nhid`.
 */
export interface PeerTarget {
  dev: Link;
  nexthops: boolean;
}

/** A peer's nexthop id: its IPv4 subnet address as a number, unique per peer and stable across restarts. */
export const nexthopId = (peer: VxlanPeer): number => Number(peer.subnet.ip.value);

/**
 * What one peer needs, as Go flannel programs it: a permanent neighbour entry (subnet.0 → VTEP MAC), an
 * FDB entry (VTEP MAC → the peer's public IP) and `<subnet> via <subnet.0> dev flannel.N onlink`. With
 * DirectRouting a peer on our L2 gets only a plain route via its public IP on the link that reaches it.
 */
export function peerEntries(t: PeerTarget, peer: VxlanPeer, directLink?: number): KernelEntry[] {
  if (directLink !== undefined) return [routeEntry({ dst: peer.subnet, gw: peer.publicIP, linkIndex: directLink })];
  const linkIndex = t.dev.index;
  const viaNexthop = t.nexthops && peer.subnet.family === 4;
  return [
    neighEntry({ linkIndex, ip: peer.subnet.ip, mac: peer.vtepMAC }),
    fdbEntry({ linkIndex, mac: peer.vtepMAC, dst: peer.publicIP }),
    ...(viaNexthop ? [nexthopEntry({ id: nexthopId(peer), gw: peer.subnet.ip, linkIndex, onlink: true })] : []),
    routeEntry(viaNexthop ? { dst: peer.subnet, nhid: nexthopId(peer) } : { dst: peer.subnet, gw: peer.subnet.ip, linkIndex, onlink: true }),
  ];
}

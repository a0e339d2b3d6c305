import { FLANNEL_ROUTE_PROTOCOL } from '@flannel-ts/core';
import {
  nlconst,
  requests,
  type FdbEntry,
  type Link,
  type Neigh,
  type NetlinkHandle,
  type NetlinkRequest,
  type Nexthop,
  type Route,
} from '@flannel-ts/core/netlink';
import type { VxlanPeer } from './peer.js';

/**
 * The device peers are programmed on, and whether routes go through nexthop objects. The kernel hashes
 * plain routes by device and not by gateway, so N `via <distinct gw>` routes make each insert walk N
 * entries (5,000 peers: 30 µs per route, growing); one nexthop object per peer keeps inserts constant
 * (about 5 µs). `ip route` still shows `via <subnet.0> dev flannel.1 onlink`, plus `nhid`.
 */
export interface PeerTarget {
  dev: Link;
  nexthops: boolean;
}

/** What the kernel holds that the vxlan backend owns: permanent entries on its device, routes and nexthops with our proto. */
export interface KernelState {
  neighs: Neigh[];
  fdbs: FdbEntry[];
  routes: Route[];
  nexthops: Nexthop[];
}

export async function readKernelState(nl: NetlinkHandle, target: PeerTarget, family: 4 | 6): Promise<KernelState> {
  const permanent = (e: { state?: number | undefined }) => ((e.state ?? 0) & nlconst.NUD_PERMANENT) !== 0;
  const [neighs, fdbs, routes, nexthops] = await Promise.all([
    nl.neighList(target.dev.index, family),
    nl.fdbList(target.dev.index),
    nl.routeList(family, { protocol: FLANNEL_ROUTE_PROTOCOL }),
    target.nexthops ? nl.nexthopList() : Promise.resolve([]),
  ]);
  return {
    neighs: neighs.filter(permanent),
    fdbs: fdbs.filter((f) => permanent(f) && f.dst?.family === family),
    routes,
    nexthops: nexthops.filter((n) => n.protocol === FLANNEL_ROUTE_PROTOCOL && (!n.gw || n.gw.family === family)),
  };
}

/** A peer's nexthop id: its IPv4 subnet address as a number, unique per peer and stable across restarts. */
export const nexthopId = (peer: VxlanPeer): number => Number(peer.subnet.ip.value);

function peerNexthop(t: PeerTarget, peer: VxlanPeer): Nexthop {
  return { id: nexthopId(peer), gw: peer.subnet.ip, linkIndex: t.dev.index, onlink: true, protocol: FLANNEL_ROUTE_PROTOCOL };
}

/** `<subnet> via <subnet.0> dev flannel.N onlink` (through a nexthop object when we can), or via the PublicIP when direct. */
export function peerRoute(t: PeerTarget, peer: VxlanPeer): Route {
  if (peer.direct) return { dst: peer.subnet, gw: peer.publicIP, protocol: FLANNEL_ROUTE_PROTOCOL };
  if (usesNexthop(t, peer)) return { dst: peer.subnet, nhid: nexthopId(peer), protocol: FLANNEL_ROUTE_PROTOCOL };
  return { dst: peer.subnet, gw: peer.subnet.ip, linkIndex: t.dev.index, onlink: true, protocol: FLANNEL_ROUTE_PROTOCOL };
}

const usesNexthop = (t: PeerTarget, peer: VxlanPeer) => t.nexthops && peer.subnet.family === 4;

/** neigh, then FDB, then the route: the kernel never has to resolve the gateway itself. */
export function addOps(t: PeerTarget, peer: VxlanPeer): NetlinkRequest[] {
  if (peer.direct) return [requests.routeReplace(peerRoute(t, peer))];
  return [
    requests.neighSet({ linkIndex: t.dev.index, ip: peer.subnet.ip, mac: peer.vtepMAC, state: nlconst.NUD_PERMANENT }),
    requests.fdbReplace({ linkIndex: t.dev.index, mac: peer.vtepMAC, dst: peer.publicIP, state: nlconst.NUD_PERMANENT, flags: nlconst.NTF_SELF }),
    ...(usesNexthop(t, peer) ? [requests.nexthopReplace(peerNexthop(t, peer))] : []),
    requests.routeReplace(peerRoute(t, peer)),
  ];
}

/** neigh, FDB, route (and its nexthop), as Go flannel removes them; each is tried even if an earlier one fails. */
export function removeOps(t: PeerTarget, peer: VxlanPeer): NetlinkRequest[] {
  const route = requests.routeDel(peerRoute(t, peer));
  if (peer.direct) return [route];
  return [
    requests.neighDel({ linkIndex: t.dev.index, ip: peer.subnet.ip }),
    requests.fdbDel({ linkIndex: t.dev.index, mac: peer.vtepMAC, dst: peer.publicIP, flags: nlconst.NTF_SELF }),
    route,
    ...(usesNexthop(t, peer) ? [requests.nexthopDel({ id: nexthopId(peer) })] : []),
  ];
}

/**
 * The requests that turn `kernel` into `desired`: stale entries we own are deleted, missing or different
 * ones are (re)written. An empty list means the kernel is already right.
 */
export function reconcileOps(t: PeerTarget, desired: Iterable<VxlanPeer>, kernel: KernelState): NetlinkRequest[] {
  const dev = t.dev;
  const wantNeigh = new Map<string, VxlanPeer>();
  const wantFdb = new Map<string, VxlanPeer>();
  const wantRoute = new Map<string, VxlanPeer>();
  const wantNexthop = new Map<number, VxlanPeer>();
  for (const p of desired) {
    wantRoute.set(String(p.subnet), p);
    if (p.direct) continue;
    wantNeigh.set(String(p.subnet.ip), p);
    wantFdb.set(String(p.vtepMAC), p);
    if (usesNexthop(t, p)) wantNexthop.set(nexthopId(p), p);
  }
  const stale: NetlinkRequest[] = [];
  const fix = new Set<VxlanPeer>();

  const neighOk = new Set<string>();
  for (const n of kernel.neighs) {
    const p = wantNeigh.get(String(n.ip));
    if (p && p.vtepMAC.equals(n.mac)) neighOk.add(String(n.ip));
    else if (!p) stale.push(requests.neighDel({ linkIndex: dev.index, ip: n.ip }));
  }
  const fdbOk = new Set<string>();
  for (const f of kernel.fdbs) {
    const p = wantFdb.get(String(f.mac));
    if (p && p.publicIP.equals(f.dst)) fdbOk.add(String(f.mac));
    else stale.push(requests.fdbDel({ linkIndex: dev.index, mac: f.mac, ...(f.dst ? { dst: f.dst } : {}), flags: nlconst.NTF_SELF }));
  }
  const nexthopOk = new Set<number>();
  for (const nh of kernel.nexthops) {
    const p = wantNexthop.get(nh.id);
    if (p && p.subnet.ip.equals(nh.gw) && nh.linkIndex === dev.index && nh.onlink) nexthopOk.add(nh.id);
    else if (!p) stale.push(requests.nexthopDel({ id: nh.id }));
  }
  const routeOk = new Set<string>();
  for (const r of kernel.routes) {
    const p = r.dst ? wantRoute.get(String(r.dst)) : undefined;
    if (p && routeMatches(t, p, r)) routeOk.add(String(r.dst));
    else if (!p) stale.push(requests.routeDel({ ...r, protocol: FLANNEL_ROUTE_PROTOCOL }));
  }

  for (const p of wantRoute.values()) {
    if (!routeOk.has(String(p.subnet))) fix.add(p);
    if (p.direct) continue;
    if (!neighOk.has(String(p.subnet.ip)) || !fdbOk.has(String(p.vtepMAC))) fix.add(p);
    if (usesNexthop(t, p) && !nexthopOk.has(nexthopId(p))) fix.add(p);
  }
  return [...stale, ...[...fix].flatMap((p) => addOps(t, p))];
}

function routeMatches(t: PeerTarget, p: VxlanPeer, r: Route): boolean {
  const want = peerRoute(t, p);
  if (want.nhid !== undefined) return r.nhid === want.nhid;
  if (r.nhid !== undefined || !want.gw!.equals(r.gw)) return false;
  return p.direct || (r.linkIndex === t.dev.index && r.onlink === true);
}

import { FLANNEL_ROUTE_PROTOCOL } from '@flannel-ts/core';
import { nlconst, requests, type FdbEntry, type Link, type Neigh, type NetlinkHandle, type NetlinkRequest, type Route } from '@flannel-ts/core/netlink';
import type { VxlanPeer } from './peer.js';

/** What the kernel holds that the vxlan backend owns: permanent neigh and FDB entries on its device, routes with our proto. */
export interface KernelState {
  neighs: Neigh[];
  fdbs: FdbEntry[];
  routes: Route[];
}

export async function readKernelState(nl: NetlinkHandle, dev: Link, family: 4 | 6): Promise<KernelState> {
  const permanent = (e: { state?: number }) => ((e.state ?? 0) & nlconst.NUD_PERMANENT) !== 0;
  const [neighs, fdbs, routes] = await Promise.all([
    nl.neighList(dev.index, family),
    nl.fdbList(dev.index),
    nl.routeList(family, { protocol: FLANNEL_ROUTE_PROTOCOL }),
  ]);
  return {
    neighs: neighs.filter(permanent),
    fdbs: fdbs.filter((f) => permanent(f) && f.dst?.family === family),
    routes,
  };
}

/** The route a peer needs: `<subnet> via <subnet.0> dev flannel.N onlink`, or via its PublicIP when direct. */
export function peerRoute(dev: Link, peer: VxlanPeer): Route {
  return peer.direct
    ? { dst: peer.subnet, gw: peer.publicIP, protocol: FLANNEL_ROUTE_PROTOCOL }
    : { dst: peer.subnet, gw: peer.subnet.ip, linkIndex: dev.index, onlink: true, protocol: FLANNEL_ROUTE_PROTOCOL };
}

/** neigh, then FDB, then the route: the kernel never has to resolve the gateway itself. */
export function addOps(dev: Link, peer: VxlanPeer): NetlinkRequest[] {
  if (peer.direct) return [requests.routeReplace(peerRoute(dev, peer))];
  return [
    requests.neighSet({ linkIndex: dev.index, ip: peer.subnet.ip, mac: peer.vtepMAC, state: nlconst.NUD_PERMANENT }),
    requests.fdbReplace({ linkIndex: dev.index, mac: peer.vtepMAC, dst: peer.publicIP, state: nlconst.NUD_PERMANENT, flags: nlconst.NTF_SELF }),
    requests.routeReplace(peerRoute(dev, peer)),
  ];
}

/** neigh, FDB, route, as Go flannel removes them; each is tried even if an earlier one fails. */
export function removeOps(dev: Link, peer: VxlanPeer): NetlinkRequest[] {
  const route = requests.routeDel(peerRoute(dev, peer));
  if (peer.direct) return [route];
  return [
    requests.neighDel({ linkIndex: dev.index, ip: peer.subnet.ip }),
    requests.fdbDel({ linkIndex: dev.index, mac: peer.vtepMAC, dst: peer.publicIP, flags: nlconst.NTF_SELF }),
    route,
  ];
}

/**
 * The requests that turn `kernel` into `desired`: stale entries we own are deleted, missing or different
 * ones are (re)written. An empty list means the kernel is already right.
 */
export function reconcileOps(dev: Link, desired: Iterable<VxlanPeer>, kernel: KernelState): NetlinkRequest[] {
  const wantNeigh = new Map<string, VxlanPeer>();
  const wantFdb = new Map<string, VxlanPeer>();
  const wantRoute = new Map<string, VxlanPeer>();
  for (const p of desired) {
    wantRoute.set(String(p.subnet), p);
    if (p.direct) continue;
    wantNeigh.set(String(p.subnet.ip), p);
    wantFdb.set(String(p.vtepMAC), p);
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
  const routeOk = new Set<string>();
  for (const r of kernel.routes) {
    const p = r.dst ? wantRoute.get(String(r.dst)) : undefined;
    const want = p && peerRoute(dev, p);
    const same = want && want.gw!.equals(r.gw) && (p.direct || (r.linkIndex === dev.index && r.onlink));
    if (same) routeOk.add(String(r.dst));
    else if (!p) stale.push(requests.routeDel({ ...r, protocol: FLANNEL_ROUTE_PROTOCOL }));
  }

  for (const p of wantRoute.values()) {
    if (!routeOk.has(String(p.subnet))) fix.add(p);
    if (p.direct) continue;
    if (!neighOk.has(String(p.subnet.ip)) || !fdbOk.has(String(p.vtepMAC))) fix.add(p);
  }
  return [...stale, ...[...fix].flatMap((p) => addOps(dev, p))];
}

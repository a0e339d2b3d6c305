import { FLANNEL_ROUTE_PROTOCOL } from '@flannel-ts/core';
import { requests, type NetlinkRequest, type Route } from '@flannel-ts/core/netlink';

/** The route a route-network backend wants for one peer subnet: `<dst> via <gw> dev <link> [onlink] proto 70`. */
export interface PeerRoute {
  dst: NonNullable<Route['dst']>;
  gw: NonNullable<Route['gw']>;
  linkIndex: number;
  onlink: boolean;
}

export function toKernelRoute(r: PeerRoute): Route {
  return { dst: r.dst, gw: r.gw, linkIndex: r.linkIndex, onlink: r.onlink, protocol: FLANNEL_ROUTE_PROTOCOL };
}

/** Same destination, gateway, device and onlink flag: Go flannel's route equality, plus onlink. */
export function sameRoute(want: PeerRoute, have: Route): boolean {
  return want.dst.equals(have.dst) && want.gw.equals(have.gw) && want.linkIndex === have.linkIndex && want.onlink === (have.onlink ?? false);
}

/**
 * The requests that make the kernel's routes with our protocol equal `desired`: missing or different
 * routes are replaced (which also displaces a conflicting route of anyone else for the same destination),
 * and ours that no lease wants any more are deleted.
 */
export function routeReconcileOps(desired: Iterable<PeerRoute>, kernel: Route[]): NetlinkRequest[] {
  const want = new Map<string, PeerRoute>();
  for (const r of desired) want.set(String(r.dst), r);
  const ops: NetlinkRequest[] = [];
  const ok = new Set<string>();
  for (const have of kernel) {
    const key = String(have.dst);
    const w = want.get(key);
    if (w && sameRoute(w, have)) ok.add(key);
    else if (!w) ops.push(requests.routeDel({ ...have, protocol: FLANNEL_ROUTE_PROTOCOL }));
  }
  for (const [key, w] of want) if (!ok.has(key)) ops.push(requests.routeReplace(toKernelRoute(w)));
  return ops;
}

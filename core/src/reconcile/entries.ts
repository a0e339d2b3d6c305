import { FLANNEL_ROUTE_PROTOCOL } from '../contracts/route-protocol.js';
import type { FdbEntry, Neigh } from '../netlink/neigh.js';
import type { Nexthop } from '../netlink/nexthop.js';
import { NTF_SELF, NUD_PERMANENT, RT_TABLE_MAIN } from '../netlink/nl/constants.js';
import * as requests from '../netlink/requests.js';
import { describeEncap, type Route } from '../netlink/route.js';
import type { NetlinkRequest } from '../netlink/socket/netlink-socket.js';
import type { KernelEntry } from './kernel-entry.js';

/** Ranks: neighbour and FDB entry before the nexthop that uses them, the nexthop before its route. */
export const RANK = { neigh: 0, fdb: 1, nexthop: 2, route: 3 } as const;

// Classes rather than object literals with closures: a node with 5,000 peers holds 20,000 of these, and
// prototype methods cost nothing per entry.

class RouteEntry implements KernelEntry {
  readonly key: string;
  readonly value: string;
  readonly rank = RANK.route;
  // The route as given, not a copy with our protocol: a resync builds one of these for every route it reads.
  constructor(private readonly route: Route) {
    const r = route;
    this.key = `route ${r.table ?? RT_TABLE_MAIN} ${r.dst ?? 'default'}`;
    this.value =
      (r.nhid !== undefined ? `nhid ${r.nhid}` : `via ${r.gw ?? '-'} dev ${r.linkIndex ?? '-'}${r.onlink ? ' onlink' : ''}`) +
      (r.encap ? ` ${describeEncap(r.encap)}` : '');
  }

  put(): NetlinkRequest {
    return requests.routeReplace({ ...this.route, protocol: FLANNEL_ROUTE_PROTOCOL });
  }

  del(): NetlinkRequest {
    return requests.routeDel({ ...this.route, protocol: FLANNEL_ROUTE_PROTOCOL });
  }
}

class NeighEntry implements KernelEntry {
  readonly key: string;
  readonly value: string;
  readonly rank = RANK.neigh;

  constructor(private readonly n: Neigh) {
    this.key = `neigh ${n.linkIndex} ${n.ip}`;
    this.value = String(n.mac);
  }

  put(): NetlinkRequest {
    return requests.neighSet({ linkIndex: this.n.linkIndex, ip: this.n.ip, mac: this.n.mac, state: NUD_PERMANENT });
  }

  del(): NetlinkRequest {
    return requests.neighDel({ linkIndex: this.n.linkIndex, ip: this.n.ip });
  }
}

class FdbKernelEntry implements KernelEntry {
  readonly key: string;
  readonly value = '';
  readonly rank = RANK.fdb;

  constructor(private readonly f: FdbEntry) {
    this.key = `fdb ${f.linkIndex} ${f.mac} ${f.dst ?? '-'}`;
  }

  put(): NetlinkRequest {
    return requests.fdbReplace({ linkIndex: this.f.linkIndex, mac: this.f.mac, dst: this.f.dst, state: NUD_PERMANENT, flags: NTF_SELF });
  }

  del(): NetlinkRequest {
    return requests.fdbDel({ linkIndex: this.f.linkIndex, mac: this.f.mac, dst: this.f.dst, flags: NTF_SELF });
  }
}

class NexthopEntry implements KernelEntry {
  readonly key: string;
  readonly value: string;
  readonly rank = RANK.nexthop;
  constructor(private readonly nh: Nexthop) {
    this.key = `nexthop ${nh.id}`;
    this.value = `via ${nh.gw ?? '-'} dev ${nh.linkIndex ?? '-'}${nh.onlink ? ' onlink' : ''}`;
  }

  put(): NetlinkRequest {
    return requests.nexthopReplace({ ...this.nh, protocol: FLANNEL_ROUTE_PROTOCOL });
  }

  del(): NetlinkRequest {
    return requests.nexthopDel({ id: this.nh.id });
  }
}

/**
 * A route we own (proto 70), keyed by table and destination. Built from a wanted route or from one the
 * kernel listed; either way `del()` removes that exact route.
 */
export const routeEntry = (r: Route): KernelEntry => new RouteEntry(r);

/** A permanent neighbour (ARP/NDP) entry, keyed by device and address; its value is the MAC. */
export const neighEntry = (n: Neigh): KernelEntry => new NeighEntry(n);

/** A permanent FDB entry on a vxlan-like device: MAC → remote address. One device may hold a MAC towards several remotes. */
export const fdbEntry = (f: FdbEntry): KernelEntry => new FdbKernelEntry(f);

/** A nexthop object we own (proto 70), keyed by id. */
export const nexthopEntry = (nh: Nexthop): KernelEntry => new NexthopEntry(nh);

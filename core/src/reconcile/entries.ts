import { FLANNEL_ROUTE_PROTOCOL } from '../contracts/route-protocol.js';
import type { FdbEntry, Neigh } from '../netlink/neigh.js';
import type { Nexthop } from '../netlink/nexthop.js';
import { NTF_SELF, NUD_PERMANENT, RT_TABLE_MAIN } from '../netlink/nl/constants.js';
import * as requests from '../netlink/requests.js';
import type { Route } from '../netlink/route.js';
import type { KernelEntry } from './kernel-entry.js';

/** Ranks: neighbour and FDB entry before the nexthop that uses them, the nexthop before its route. */
export const RANK = { neigh: 0, fdb: 1, nexthop: 2, route: 3 } as const;

/**
 * A route we own (proto 70), keyed by table and destination. Built from a wanted route or from one the
 * kernel listed; either way `del()` removes that exact route.
 */
export function routeEntry(r: Route): KernelEntry {
  const route: Route = { ...r, protocol: FLANNEL_ROUTE_PROTOCOL };
  const via = r.nhid !== undefined ? `nhid ${r.nhid}` : `via ${r.gw ?? '-'} dev ${r.linkIndex ?? '-'}${r.onlink ? ' onlink' : ''}`;
  return {
    key: `route ${r.table ?? RT_TABLE_MAIN} ${r.dst ?? 'default'}`,
    value: via,
    rank: RANK.route,
    put: () => requests.routeReplace(route),
    del: () => requests.routeDel(route),
  };
}

/** A permanent neighbour (ARP/NDP) entry, keyed by device and address; its value is the MAC. */
export function neighEntry(n: Neigh): KernelEntry {
  return {
    key: `neigh ${n.linkIndex} ${n.ip}`,
    value: String(n.mac),
    rank: RANK.neigh,
    put: () => requests.neighSet({ linkIndex: n.linkIndex, ip: n.ip, mac: n.mac, state: NUD_PERMANENT }),
    del: () => requests.neighDel({ linkIndex: n.linkIndex, ip: n.ip }),
  };
}

/** A permanent FDB entry on a vxlan-like device: MAC → remote address. One device may hold a MAC towards several remotes. */
export function fdbEntry(f: FdbEntry): KernelEntry {
  const entry: FdbEntry = { linkIndex: f.linkIndex, mac: f.mac, dst: f.dst, state: NUD_PERMANENT, flags: NTF_SELF };
  return {
    key: `fdb ${f.linkIndex} ${f.mac} ${f.dst ?? '-'}`,
    value: '',
    rank: RANK.fdb,
    put: () => requests.fdbReplace(entry),
    del: () => requests.fdbDel({ linkIndex: f.linkIndex, mac: f.mac, dst: f.dst, flags: NTF_SELF }),
  };
}

/** A nexthop object we own (proto 70), keyed by id. */
export function nexthopEntry(nh: Nexthop): KernelEntry {
  const owned: Nexthop = { ...nh, protocol: FLANNEL_ROUTE_PROTOCOL };
  return {
    key: `nexthop ${nh.id}`,
    value: `via ${nh.gw ?? '-'} dev ${nh.linkIndex ?? '-'}${nh.onlink ? ' onlink' : ''}`,
    rank: RANK.nexthop,
    put: () => requests.nexthopReplace(owned),
    del: () => requests.nexthopDel({ id: nh.id }),
  };
}

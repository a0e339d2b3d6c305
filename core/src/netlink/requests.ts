import type { IP } from '../ip/ip.js';
import { encodeAddr, type Addr } from './addr.js';
import { encodeLinkAdd, encodeLinkSet, writeIfinfomsg, type LinkChange, type LinkSpec } from './link.js';
import { encodeFdb, encodeNeigh, type FdbEntry, type Neigh } from './neigh.js';
import {
  NLM_F_APPEND, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE, RTM_DELADDR, RTM_DELLINK, RTM_DELNEIGH, RTM_DELROUTE, RTM_NEWADDR,
  RTM_DELNEXTHOP, RTM_NEWLINK, RTM_NEWNEIGH, RTM_NEWNEXTHOP, RTM_NEWROUTE,
} from './nl/constants.js';
import { encodeNexthop, type Nexthop } from './nexthop.js';
import { encodeRoute, type Route } from './route.js';
import type { NetlinkRequest } from './socket/netlink-socket.js';

// Request builders, one per iproute2 verb, each with a fixed set of flags:
// add = create+exclusive, replace/set = create+replace, append = create+append, del.
// They only describe a request; NetlinkHandle.apply sends any mix of them as one batch.

const ADD = NLM_F_CREATE | NLM_F_EXCL;
const REPLACE = NLM_F_CREATE | NLM_F_REPLACE;
const APPEND = NLM_F_CREATE | NLM_F_APPEND;

const ipText = (ip?: IP) => (ip ? ` ${ip}` : '');

function describeRoute(verb: string, r: Route): string {
  const parts = [`ip route ${verb} ${r.dst ?? 'default'}`];
  if (r.nhid !== undefined) parts.push(`nhid ${r.nhid}`);
  if (r.gw) parts.push(`via ${r.gw}`);
  if (r.linkIndex) parts.push(`dev #${r.linkIndex}`);
  if (r.table && r.table !== 254) parts.push(`table ${r.table}`);
  if (r.onlink) parts.push('onlink');
  return parts.join(' ');
}

export const linkAdd = (spec: LinkSpec): NetlinkRequest => ({
  op: `ip link add ${spec.name} type ${spec.kind}`,
  type: RTM_NEWLINK,
  flags: ADD,
  body: (w) => encodeLinkAdd(w, spec),
});

export const linkDel = (index: number): NetlinkRequest => ({
  op: `ip link del #${index}`,
  type: RTM_DELLINK,
  flags: 0,
  body: (w) => writeIfinfomsg(w, index),
});

export const linkSet = (index: number, change: LinkChange): NetlinkRequest => ({
  op: `ip link set #${index} ${JSON.stringify(change)}`,
  type: RTM_NEWLINK,
  flags: 0,
  body: (w) => encodeLinkSet(w, index, change),
});

const addrReq = (verb: string, type: number, flags: number) => (a: Addr): NetlinkRequest => ({
  op: `ip addr ${verb} ${a.ip}/${a.prefixLen} dev #${a.linkIndex}`,
  type,
  flags,
  body: (w) => encodeAddr(w, a),
});
export const addrAdd = addrReq('add', RTM_NEWADDR, ADD);
export const addrReplace = addrReq('replace', RTM_NEWADDR, REPLACE);
export const addrDel = addrReq('del', RTM_DELADDR, 0);

export const routeAdd = (r: Route): NetlinkRequest => ({ op: describeRoute('add', r), type: RTM_NEWROUTE, flags: ADD, body: (w) => encodeRoute(w, r) });
export const routeReplace = (r: Route): NetlinkRequest => ({ op: describeRoute('replace', r), type: RTM_NEWROUTE, flags: REPLACE, body: (w) => encodeRoute(w, r) });
export const routeDel = (r: Route): NetlinkRequest => ({ op: describeRoute('del', r), type: RTM_DELROUTE, flags: 0, body: (w) => encodeRoute(w, r, true) });

const neighReq = (verb: string, type: number, flags: number) => (n: Neigh): NetlinkRequest => ({
  op: `ip neigh ${verb} ${n.ip}${n.mac ? ` lladdr ${n.mac}` : ''} dev #${n.linkIndex}`,
  type,
  flags,
  body: (w) => encodeNeigh(w, n),
});
export const neighAdd = neighReq('add', RTM_NEWNEIGH, ADD);
/** `ip neigh replace`: create or overwrite. */
export const neighSet = neighReq('replace', RTM_NEWNEIGH, REPLACE);
export const neighDel = neighReq('del', RTM_DELNEIGH, 0);

const fdbReq = (verb: string, type: number, flags: number) => (f: FdbEntry): NetlinkRequest => ({
  op: `bridge fdb ${verb} ${f.mac} dev #${f.linkIndex} self${f.dst ? ` dst${ipText(f.dst)}` : ''}`,
  type,
  flags,
  body: (w) => encodeFdb(w, f),
});
export const fdbAdd = fdbReq('add', RTM_NEWNEIGH, ADD);
export const fdbAppend = fdbReq('append', RTM_NEWNEIGH, APPEND);
export const fdbReplace = fdbReq('replace', RTM_NEWNEIGH, REPLACE);
export const fdbDel = fdbReq('del', RTM_DELNEIGH, 0);

const nexthopReq = (verb: string, type: number, flags: number, forDelete = false) => (nh: Nexthop): NetlinkRequest => ({
  op: `ip nexthop ${verb} id ${nh.id}${ipText(nh.gw) ? ` via${ipText(nh.gw)}` : ''}${nh.linkIndex ? ` dev #${nh.linkIndex}` : ''}${nh.onlink ? ' onlink' : ''}`,
  type,
  flags,
  body: (w) => encodeNexthop(w, nh, forDelete),
});
export const nexthopReplace = nexthopReq('replace', RTM_NEWNEXTHOP, REPLACE);
export const nexthopDel = nexthopReq('del', RTM_DELNEXTHOP, 0, true);

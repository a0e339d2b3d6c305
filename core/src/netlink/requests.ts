import type { IP } from '../ip/ip.js';
import { encodeAddr, type Addr } from './addr.js';
import { encodeLinkAdd, encodeLinkSet, writeIfinfomsg, type LinkChange, type LinkSpec } from './link.js';
import { encodeFdb, encodeNeigh, type FdbEntry, type Neigh } from './neigh.js';
import {
  NLM_F_APPEND,
  NLM_F_CREATE,
  NLM_F_EXCL,
  NLM_F_REPLACE,
  RTM_DELADDR,
  RTM_DELLINK,
  RTM_DELNEIGH,
  RTM_DELROUTE,
  RTM_NEWADDR,
  RTM_DELNEXTHOP,
  RTM_NEWLINK,
  RTM_NEWNEIGH,
  RTM_NEWNEXTHOP,
  RTM_NEWROUTE,
  NETLINK_XFRM,
  XFRM_MSG_DELPOLICY,
  XFRM_MSG_UPDPOLICY,
} from './nl/constants.js';
import { encodeNexthop, type Nexthop } from './nexthop.js';
import { describeEncap, encodeRoute, type Route } from './route.js';
import type { NetlinkRequest, RequestWhat } from './socket/netlink-socket.js';
import { NetlinkArgumentError } from './errors.js';
import { wgSetDeviceRequests, type WgDeviceConfig, type WgPeerConfig } from './wireguard.js';
import {
  checkXfrmPolicy,
  checkXfrmSelector,
  describeXfrmPolicy,
  describeXfrmSelector,
  encodeXfrmPolicy,
  encodeXfrmPolicyId,
  type XfrmPolicy,
  type XfrmPolicySelector,
} from './xfrm.js';

// Request builders, one per iproute2 verb, each with a fixed set of flags:
// add = create+exclusive, replace/set = create+replace, append = create+append, del.
// They only describe a request; NetlinkHandle.apply sends any mix of them as one batch.

const ADD = NLM_F_CREATE | NLM_F_EXCL;
const REPLACE = NLM_F_CREATE | NLM_F_REPLACE;
const APPEND = NLM_F_CREATE | NLM_F_APPEND;

const ipText = (ip?: IP) => (ip ? ` ${ip}` : '');

/**
 * The text is built only when someone reads `op` (an error message): formatting addresses for 20,000
 * routes that succeed would cost more than sending them. A class and not an object literal with a getter:
 * V8 makes each such literal a dictionary-mode object, ~800 bytes with its closures where this is ~270,
 * and a start builds one per kernel entry.
 */
class LazyRequest implements NetlinkRequest {
  constructor(
    readonly type: number,
    readonly flags: number,
    readonly body: NetlinkRequest['body'],
    private readonly describe: () => string,
    readonly what: RequestWhat,
  ) {}

  get op(): string {
    return this.describe();
  }
}

function request(type: number, flags: number, body: NetlinkRequest['body'], describe: () => string, what: RequestWhat): NetlinkRequest {
  return new LazyRequest(type, flags, body, describe, what);
}

function describeRoute(verb: string, r: Route): string {
  const parts = [`ip route ${verb} ${r.dst ?? 'default'}`];
  if (r.nhid !== undefined) parts.push(`nhid ${r.nhid}`);
  if (r.gw) parts.push(`via ${r.gw}`);
  if (r.linkIndex) parts.push(`dev #${r.linkIndex}`);
  if (r.table && r.table !== 254) parts.push(`table ${r.table}`);
  if (r.onlink) parts.push('onlink');
  if (r.encap && verb !== 'del') parts.push(describeEncap(r.encap));
  return parts.join(' ');
}

export const linkAdd = (spec: LinkSpec): NetlinkRequest =>
  request(
    RTM_NEWLINK,
    ADD,
    (w) => encodeLinkAdd(w, spec),
    () => `ip link add ${spec.name} type ${spec.kind}`,
    { object: 'link', verb: 'add', value: spec },
  );

export const linkDel = (index: number): NetlinkRequest =>
  request(
    RTM_DELLINK,
    0,
    (w) => writeIfinfomsg(w, index),
    () => `ip link del #${index}`,
    { object: 'link', verb: 'del', value: index },
  );

export const linkSet = (index: number, change: LinkChange): NetlinkRequest =>
  request(
    RTM_NEWLINK,
    0,
    (w) => encodeLinkSet(w, index, change),
    () => `ip link set #${index} ${JSON.stringify(change)}`,
    {
      object: 'link',
      verb: 'set',
      value: { index, change },
    },
  );

const addrReq =
  (verb: RequestWhat['verb'], type: number, flags: number) =>
  (a: Addr): NetlinkRequest =>
    request(
      type,
      flags,
      (w) => encodeAddr(w, a),
      () => `ip addr ${verb} ${a.ip}/${a.prefixLen} dev #${a.linkIndex}`,
      { object: 'addr', verb, value: a },
    );
export const addrAdd = addrReq('add', RTM_NEWADDR, ADD);
export const addrReplace = addrReq('replace', RTM_NEWADDR, REPLACE);
export const addrDel = addrReq('del', RTM_DELADDR, 0);

const routeReq =
  (verb: RequestWhat['verb'], type: number, flags: number, forDelete = false) =>
  (r: Route): NetlinkRequest =>
    request(
      type,
      flags,
      (w) => encodeRoute(w, r, forDelete),
      () => describeRoute(verb, r),
      { object: 'route', verb, value: r },
    );
export const routeAdd = routeReq('add', RTM_NEWROUTE, ADD);
export const routeReplace = routeReq('replace', RTM_NEWROUTE, REPLACE);
export const routeDel = routeReq('del', RTM_DELROUTE, 0, true);

const neighReq =
  (verb: RequestWhat['verb'], type: number, flags: number) =>
  (n: Neigh): NetlinkRequest =>
    request(
      type,
      flags,
      (w) => encodeNeigh(w, n),
      () => `ip neigh ${verb} ${n.ip}${n.mac ? ` lladdr ${n.mac}` : ''} dev #${n.linkIndex}`,
      {
        object: 'neigh',
        verb,
        value: n,
      },
    );
export const neighAdd = neighReq('add', RTM_NEWNEIGH, ADD);
/** `ip neigh replace`: create or overwrite. */
export const neighSet = neighReq('replace', RTM_NEWNEIGH, REPLACE);
export const neighDel = neighReq('del', RTM_DELNEIGH, 0);

const fdbReq =
  (verb: RequestWhat['verb'], type: number, flags: number) =>
  (f: FdbEntry): NetlinkRequest =>
    request(
      type,
      flags,
      (w) => encodeFdb(w, f),
      () => `bridge fdb ${verb} ${f.mac} dev #${f.linkIndex} self${f.dst ? ` dst${ipText(f.dst)}` : ''}`,
      {
        object: 'fdb',
        verb,
        value: f,
      },
    );
export const fdbAdd = fdbReq('add', RTM_NEWNEIGH, ADD);
export const fdbAppend = fdbReq('append', RTM_NEWNEIGH, APPEND);
export const fdbReplace = fdbReq('replace', RTM_NEWNEIGH, REPLACE);
export const fdbDel = fdbReq('del', RTM_DELNEIGH, 0);

function describeNexthop(verb: string, nh: Nexthop): string {
  const parts = [`ip nexthop ${verb} id ${nh.id}`];
  if (nh.gw) parts.push(`via ${nh.gw}`);
  if (nh.linkIndex) parts.push(`dev #${nh.linkIndex}`);
  if (nh.onlink) parts.push('onlink');
  return parts.join(' ');
}
const nexthopReq =
  (verb: RequestWhat['verb'], type: number, flags: number, forDelete = false) =>
  (nh: Nexthop): NetlinkRequest =>
    request(
      type,
      flags,
      (w) => encodeNexthop(w, nh, forDelete),
      () => describeNexthop(verb, nh),
      { object: 'nexthop', verb, value: nh },
    );
export const nexthopReplace = nexthopReq('replace', RTM_NEWNEXTHOP, REPLACE);
export const nexthopDel = nexthopReq('del', RTM_DELNEXTHOP, 0, true);

/**
 * `wg set DEV …` (WG_CMD_SET_DEVICE on the generic netlink socket), one request per message: usually one;
 * more when the peers do not fit in one message, split as the kernel's wireguard documentation asks.
 */
export const wgSetDevice = (config: WgDeviceConfig, maxBytes?: number): NetlinkRequest[] => wgSetDeviceRequests(config, maxBytes);

/** One peer of a wireguard device, added or changed (or, with `remove`, removed) by one message. */
export function wgPeerSet(device: string | number, peer: WgPeerConfig): NetlinkRequest {
  const [r, ...more] = wgSetDeviceRequests({ device, peers: [peer] });
  if (more.length > 0) throw new NetlinkArgumentError(`${r!.op}: too many allowed IPs for one message; use wgSetDevice`);
  return r!;
}

/**
 * `ip xfrm policy update …` (XFRM_MSG_UPDPOLICY on the XFRM socket): creates the policy, or replaces the
 * one with the same selector, direction and mark. Throws NetlinkArgumentError for a malformed policy.
 */
export function xfrmPolicyUpdate(p: XfrmPolicy): NetlinkRequest {
  checkXfrmPolicy(p);
  const r = request(
    XFRM_MSG_UPDPOLICY,
    0,
    (w) => encodeXfrmPolicy(w, p),
    () => describeXfrmPolicy('update', p),
    { object: 'xfrm-policy', verb: 'replace', value: p },
  );
  r.protocol = NETLINK_XFRM;
  return r;
}

/** `ip xfrm policy delete src S dst D dir DIR [mark V/M]`: by selector; ENOENT when there is none. */
export function xfrmPolicyDel(p: XfrmPolicySelector): NetlinkRequest {
  checkXfrmSelector(p);
  const sel: XfrmPolicySelector = { src: p.src, dst: p.dst, dir: p.dir, ...(p.mark ? { mark: p.mark } : {}) };
  const r = request(
    XFRM_MSG_DELPOLICY,
    0,
    (w) => encodeXfrmPolicyId(w, sel),
    () => describeXfrmSelector('delete', sel),
    { object: 'xfrm-policy', verb: 'del', value: sel },
  );
  r.protocol = NETLINK_XFRM;
  return r;
}

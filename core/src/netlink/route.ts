import { IP } from '../ip/ip.js';
import { IPNet } from '../ip/ipnet.js';
import { familyOf } from './addr.js';
import { NetlinkArgumentError } from './errors.js';
import { attrU8, parseAttrs, type MessageWriter } from './nl/attrs.js';
import {
  AF_INET,
  AF_INET6,
  LWTUNNEL_ENCAP_IP,
  LWTUNNEL_ENCAP_IP6,
  LWTUNNEL_IP_DST,
  LWTUNNEL_IP_ID,
  LWTUNNEL_IP_SRC,
  LWTUNNEL_IP_TTL,
  LWTUNNEL_IP6_DST,
  LWTUNNEL_IP6_HOPLIMIT,
  LWTUNNEL_IP6_ID,
  LWTUNNEL_IP6_SRC,
  RTA_ENCAP,
  RTA_ENCAP_TYPE,
  RT_SCOPE_LINK,
  RT_SCOPE_UNIVERSE,
  RT_TABLE_MAIN,
  RT_TABLE_UNSPEC,
  RTA_DST,
  RTA_GATEWAY,
  RTA_OIF,
  RTA_NH_ID,
  RTA_PREFSRC,
  RTA_PRIORITY,
  RTA_TABLE,
  RTN_UNICAST,
  RTNH_F_ONLINK,
  RTPROT_BOOT,
} from './nl/constants.js';

/**
 * A route, in `ip route` terms: `<dst> via <gw> dev <oif> proto <protocol> scope <scope> metric <priority>
 * table <table> [onlink]`. An absent `dst` is the default route.
 */
export interface Route {
  dst?: IPNet | undefined;
  gw?: IP | undefined;
  linkIndex?: number | undefined;
  table?: number | undefined;
  protocol?: number | undefined;
  scope?: number | undefined;
  type?: number | undefined;
  priority?: number | undefined;
  src?: IP | undefined;
  onlink?: boolean | undefined;
  family?: 4 | 6 | undefined;
  /** A nexthop object (`nhid N`) instead of gw/dev; listings still report its gw and dev. */
  nhid?: number | undefined;
  /** Tunnel metadata for an external (collect_md) geneve or vxlan device: `encap ip id N dst IP`. */
  encap?: IpTunnelEncap | undefined;
}

/**
 * A lightweight-tunnel encapsulation: `encap ip id ID dst DST [src SRC] [ttl TTL]` (or `encap ip6 …` when
 * `dst` is IPv6). The device the route points at (an external geneve or vxlan device) sends each packet
 * to `dst` with tunnel id (VNI) `id`.
 */
export interface IpTunnelEncap {
  /** The tunnel id: the VNI, 0 .. 2^53 - 1 here (the kernel's is 64 bits). */
  id: number;
  dst: IP;
  src?: IP | undefined;
  /** TTL (IPv4) or hop limit (IPv6) of the outer header; absent or 0: the device's. */
  ttl?: number | undefined;
}

export function routeFamily(r: Route): 4 | 6 {
  return r.dst?.family ?? r.gw?.family ?? r.family ?? 4;
}

/**
 * struct rtmsg + attributes. Defaults follow iproute2: table main, proto boot, and scope link for a
 * unicast route with no gateway (universe otherwise).
 */
export function encodeRoute(w: MessageWriter, r: Route, forDelete = false): void {
  const family = routeFamily(r);
  const table = r.table ?? RT_TABLE_MAIN;
  const type = r.type ?? RTN_UNICAST;
  const scope = r.scope ?? (forDelete ? RT_SCOPE_UNIVERSE : !r.gw && r.nhid === undefined && type === RTN_UNICAST ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE);
  const off = w.reserve(12);
  const b = w.view();
  b.writeUInt8(family === 4 ? AF_INET : AF_INET6, off);
  b.writeUInt8(r.dst?.prefixLen ?? 0, off + 1);
  b.writeUInt8(table < 256 ? table : RT_TABLE_UNSPEC, off + 4);
  b.writeUInt8(forDelete ? (r.protocol ?? 0) : (r.protocol ?? RTPROT_BOOT), off + 5);
  b.writeUInt8(forDelete && r.scope === undefined ? 0xff : scope, off + 6); // RT_SCOPE_NOWHERE matches any on delete
  b.writeUInt8(forDelete && r.type === undefined ? 0 : type, off + 7);
  b.writeUInt32LE(r.onlink ? RTNH_F_ONLINK : 0, off + 8);
  if (r.dst) w.ip(RTA_DST, r.dst.ip);
  if (r.nhid !== undefined && !forDelete) {
    w.u32(RTA_NH_ID, r.nhid);
  } else {
    if (r.gw) w.ip(RTA_GATEWAY, r.gw);
    if (r.linkIndex) w.u32(RTA_OIF, r.linkIndex);
  }
  if (r.priority !== undefined) w.u32(RTA_PRIORITY, r.priority);
  if (r.src) w.ip(RTA_PREFSRC, r.src);
  w.u32(RTA_TABLE, table);
  if (r.encap && !forDelete) writeEncap(w, r.encap);
}

function writeEncap(w: MessageWriter, e: IpTunnelEncap): void {
  if (!Number.isSafeInteger(e.id) || e.id < 0) throw new NetlinkArgumentError(`invalid tunnel id ${e.id}`);
  if (e.src && e.src.family !== e.dst.family) throw new NetlinkArgumentError(`encap src ${e.src} and dst ${e.dst} are of different families`);
  if (e.ttl !== undefined && (!Number.isInteger(e.ttl) || e.ttl < 0 || e.ttl > 255)) throw new NetlinkArgumentError(`invalid encap ttl ${e.ttl}: 0..255`);
  const v4 = e.dst.family === 4;
  const id = Buffer.alloc(8);
  id.writeBigUInt64BE(BigInt(e.id)); // __be64, as iproute2 sends it
  w.u16(RTA_ENCAP_TYPE, v4 ? LWTUNNEL_ENCAP_IP : LWTUNNEL_ENCAP_IP6);
  w.nest(RTA_ENCAP, () => {
    w.bytes(v4 ? LWTUNNEL_IP_ID : LWTUNNEL_IP6_ID, id);
    w.bytes(v4 ? LWTUNNEL_IP_DST : LWTUNNEL_IP6_DST, e.dst.toBytes());
    if (e.src) w.bytes(v4 ? LWTUNNEL_IP_SRC : LWTUNNEL_IP6_SRC, e.src.toBytes());
    if (e.ttl) w.u8(v4 ? LWTUNNEL_IP_TTL : LWTUNNEL_IP6_HOPLIMIT, e.ttl);
  });
}

/** `encap ip id 1 dst 192.0.2.2`, as `ip route` writes it (less its zero fields). */
export function describeEncap(e: IpTunnelEncap): string {
  return `encap ip${e.dst.family === 6 ? '6' : ''} id ${e.id} dst ${e.dst}${e.src ? ` src ${e.src}` : ''}${e.ttl ? ` ttl ${e.ttl}` : ''}`;
}

/** The IP encapsulation of a listed route; other kinds (MPLS, seg6, BPF …) are not read. */
function decodeEncap(type: Buffer | undefined, data: Buffer | undefined): IpTunnelEncap | undefined {
  if (!type || type.length < 2 || !data) return undefined;
  const kind = type.readUInt16LE(0);
  if (kind !== LWTUNNEL_ENCAP_IP && kind !== LWTUNNEL_ENCAP_IP6) return undefined;
  const a = parseAttrs(data);
  const idRaw = a.get(LWTUNNEL_IP_ID); // LWTUNNEL_IP6_ID has the same number
  const dstRaw = a.get(LWTUNNEL_IP_DST);
  const width = kind === LWTUNNEL_ENCAP_IP ? 4 : 16;
  if (idRaw?.length !== 8 || dstRaw?.length !== width) return undefined;
  const e: IpTunnelEncap = { id: Number(idRaw.readBigUInt64BE(0)), dst: IP.fromBytes(dstRaw) };
  const srcRaw = a.get(LWTUNNEL_IP_SRC);
  if (srcRaw?.length === width && !IP.fromBytes(srcRaw).isUnspecified()) e.src = IP.fromBytes(srcRaw);
  const ttl = attrU8(a.get(LWTUNNEL_IP_TTL));
  if (ttl) e.ttl = ttl;
  return e;
}

/** A dump request; with strict checking the kernel filters by table and device itself. */
export function encodeRouteDump(w: MessageWriter, family: 4 | 6, filter: RouteFilter): void {
  const off = w.reserve(12);
  const b = w.view();
  b.writeUInt8(family === 4 ? AF_INET : AF_INET6, off);
  const table = filter.table ?? RT_TABLE_MAIN;
  b.writeUInt8(table < 256 ? table : RT_TABLE_UNSPEC, off + 4);
  if (filter.protocol !== undefined) b.writeUInt8(filter.protocol, off + 5);
  if (table !== RT_TABLE_UNSPEC) w.u32(RTA_TABLE, table);
  if (filter.linkIndex) w.u32(RTA_OIF, filter.linkIndex);
}

/** `ip route get <dst>` */
export function encodeRouteGet(w: MessageWriter, dst: IP): void {
  const off = w.reserve(12);
  w.view().writeUInt8(familyOf(dst), off);
  w.view().writeUInt8(dst.bits, off + 1);
  w.bytes(RTA_DST, dst.toBytes());
}

export interface RouteFilter {
  /** Default: main; 0 means every table. */
  table?: number | undefined;
  linkIndex?: number | undefined;
  protocol?: number | undefined;
  dst?: IPNet | undefined;
  gw?: IP | undefined;
}

export function decodeRoute(payload: Buffer): Route | undefined {
  const family = payload.readUInt8(0);
  if (family !== AF_INET && family !== AF_INET6) return undefined;
  const a = parseAttrs(payload, 12);
  const dst = a.ip(RTA_DST);
  const src = a.ip(RTA_PREFSRC);
  const dstLen = payload.readUInt8(1);
  return {
    family: family === AF_INET ? 4 : 6,
    dst: dst ? new IPNet(dst, dstLen) : undefined,
    gw: a.ip(RTA_GATEWAY),
    linkIndex: a.u32(RTA_OIF),
    table: a.u32(RTA_TABLE) ?? payload.readUInt8(4),
    protocol: payload.readUInt8(5),
    scope: payload.readUInt8(6),
    type: payload.readUInt8(7),
    priority: a.u32(RTA_PRIORITY),
    src,
    onlink: (payload.readUInt32LE(8) & RTNH_F_ONLINK) !== 0,
    nhid: a.u32(RTA_NH_ID),
    encap: decodeEncap(a.get(RTA_ENCAP_TYPE), a.get(RTA_ENCAP)),
  };
}

export function routeMatches(r: Route, f: RouteFilter): boolean {
  const table = f.table ?? RT_TABLE_MAIN;
  if (table !== 0 && r.table !== table) return false;
  if (f.linkIndex !== undefined && r.linkIndex !== f.linkIndex) return false;
  if (f.protocol !== undefined && r.protocol !== f.protocol) return false;
  if (f.dst !== undefined && !(r.dst ? r.dst.equals(f.dst) : f.dst.prefixLen === 0 && f.dst.ip.isUnspecified())) return false;
  if (f.gw !== undefined && !f.gw.equals(r.gw)) return false;
  return true;
}

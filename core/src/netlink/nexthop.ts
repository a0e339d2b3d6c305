import type { IP } from '../ip/ip.js';
import { familyOf } from './addr.js';
import { parseAttrs, type MessageWriter } from './nl/attrs.js';
import { AF_INET, AF_INET6, AF_UNSPEC, NHA_GATEWAY, NHA_ID, NHA_OIF, RT_SCOPE_UNIVERSE, RTNH_F_ONLINK, RTPROT_BOOT } from './nl/constants.js';

/**
 * A nexthop object: `ip nexthop add id ID via GW dev IDX [onlink] proto P`. Routes point at it with
 * `nhid ID`. The kernel hashes a route's nexthop by device, not gateway, so thousands of plain
 * `via <distinct gw>` routes share one hash chain and each insert walks it; routes on distinct
 * nexthop objects hash apart.
 */
export interface Nexthop {
  id: number;
  gw?: IP;
  linkIndex?: number;
  onlink?: boolean;
  protocol?: number;
}

export function encodeNexthop(w: MessageWriter, nh: Nexthop, forDelete = false): void {
  const off = w.reserve(8);
  const b = w.view();
  b.writeUInt8(forDelete || !nh.gw ? AF_UNSPEC : familyOf(nh.gw), off);
  b.writeUInt8(RT_SCOPE_UNIVERSE, off + 1);
  b.writeUInt8(forDelete ? 0 : (nh.protocol ?? RTPROT_BOOT), off + 2);
  b.writeUInt32LE(!forDelete && nh.onlink ? RTNH_F_ONLINK : 0, off + 4);
  w.u32(NHA_ID, nh.id);
  if (forDelete) return;
  if (nh.gw) w.ip(NHA_GATEWAY, nh.gw);
  if (nh.linkIndex) w.u32(NHA_OIF, nh.linkIndex);
}

export function encodeNexthopDump(w: MessageWriter): void {
  w.reserve(8); // AF_UNSPEC, no filters: every nexthop
}

export function decodeNexthop(payload: Buffer): Nexthop | undefined {
  const family = payload.readUInt8(0);
  const a = parseAttrs(payload, 8);
  const id = a.u32(NHA_ID);
  if (id === undefined) return undefined;
  const nh: Nexthop = { id, protocol: payload.readUInt8(2), onlink: (payload.readUInt32LE(4) & RTNH_F_ONLINK) !== 0 };
  const gw = family === AF_INET || family === AF_INET6 ? a.ip(NHA_GATEWAY) : undefined;
  if (gw) nh.gw = gw;
  const oif = a.u32(NHA_OIF);
  if (oif !== undefined) nh.linkIndex = oif;
  return nh;
}

import type { IP } from '../ip/ip.js';
import { MAC } from '../ip/mac.js';
import { familyOf } from './addr.js';
import { parseAttrs, type MessageWriter } from './nl/attrs.js';
import { AF_BRIDGE, AF_INET, AF_INET6, NDA_DST, NDA_IFINDEX, NDA_LLADDR, NDA_MASTER, NTF_SELF, NUD_PERMANENT } from './nl/constants.js';

/** An ARP/NDP entry: `ip neigh replace <ip> lladdr <mac> dev <idx> nud permanent`. */
export interface Neigh {
  linkIndex: number;
  ip: IP;
  mac?: MAC | undefined;
  state?: number | undefined;
  flags?: number | undefined;
}

/** A bridge forwarding entry: `bridge fdb append <mac> dev <idx> self dst <ip> permanent`. */
export interface FdbEntry {
  linkIndex: number;
  mac: MAC;
  /** The remote VTEP (vxlan devices). */
  dst?: IP | undefined;
  state?: number | undefined;
  flags?: number | undefined;
  masterIndex?: number | undefined;
}

function writeNdmsg(w: MessageWriter, family: number, linkIndex: number, state: number, flags: number): void {
  const off = w.reserve(12);
  const b = w.view();
  b.writeUInt8(family, off);
  b.writeInt32LE(linkIndex, off + 4);
  b.writeUInt16LE(state, off + 8);
  b.writeUInt8(flags, off + 10);
}

export function encodeNeigh(w: MessageWriter, n: Neigh): void {
  writeNdmsg(w, familyOf(n.ip), n.linkIndex, n.state ?? NUD_PERMANENT, n.flags ?? 0);
  w.ip(NDA_DST, n.ip);
  if (n.mac) w.mac(NDA_LLADDR, n.mac);
}

export function encodeFdb(w: MessageWriter, f: FdbEntry): void {
  writeNdmsg(w, AF_BRIDGE, f.linkIndex, f.state ?? NUD_PERMANENT, f.flags ?? NTF_SELF);
  w.mac(NDA_LLADDR, f.mac);
  if (f.dst) w.ip(NDA_DST, f.dst);
}

/**
 * Under strict checking the kernel filters a neighbour dump by the NDA_IFINDEX attribute and rejects a
 * header ifindex; an FDB (AF_BRIDGE) dump takes the port in the header.
 */
export function encodeNeighDump(w: MessageWriter, family: number, linkIndex: number): void {
  if (family === AF_BRIDGE) {
    writeNdmsg(w, family, linkIndex, 0, 0);
    return;
  }
  writeNdmsg(w, family, 0, 0, 0);
  if (linkIndex) w.u32(NDA_IFINDEX, linkIndex);
}

export function decodeNeigh(payload: Buffer): Neigh | undefined {
  const family = payload.readUInt8(0);
  if (family !== AF_INET && family !== AF_INET6) return undefined;
  const a = parseAttrs(payload, 12);
  const ip = a.ip(NDA_DST);
  const ll = a.get(NDA_LLADDR);
  if (!ip) return undefined;
  return {
    linkIndex: payload.readInt32LE(4),
    ip,
    mac: ll?.length === 6 ? MAC.fromBytes(ll) : undefined,
    state: payload.readUInt16LE(8),
    flags: payload.readUInt8(10),
  };
}

export function decodeFdb(payload: Buffer): FdbEntry | undefined {
  if (payload.readUInt8(0) !== AF_BRIDGE) return undefined;
  const a = parseAttrs(payload, 12);
  const ll = a.get(NDA_LLADDR);
  if (ll?.length !== 6) return undefined;
  const dstLength = a.length(NDA_DST);
  return {
    linkIndex: payload.readInt32LE(4),
    mac: MAC.fromBytes(ll),
    dst: dstLength === 4 || dstLength === 16 ? a.ip(NDA_DST) : undefined,
    state: payload.readUInt16LE(8),
    flags: payload.readUInt8(10),
    masterIndex: a.u32(NDA_MASTER),
  };
}

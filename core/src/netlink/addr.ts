import { IP } from '../ip/ip.js';
import { IPNet } from '../ip/ipnet.js';
import { attrStr, attrU32, parseAttrs, type MessageWriter } from './nl/attrs.js';
import { AF_INET, AF_INET6, IFA_ADDRESS, IFA_FLAGS, IFA_LABEL, IFA_LOCAL, RT_SCOPE_UNIVERSE } from './nl/constants.js';

/** An interface address: `ip addr add 10.244.1.0/32 dev flannel.1`. */
export interface Addr {
  linkIndex: number;
  ip: IP;
  prefixLen: number;
  scope?: number | undefined;
  flags?: number | undefined;
  label?: string | undefined;
}

export const familyOf = (ip: IP) => (ip.family === 4 ? AF_INET : AF_INET6);

export function addrNet(a: Addr): IPNet {
  return new IPNet(a.ip, a.prefixLen);
}

export function encodeAddr(w: MessageWriter, a: Addr): void {
  const off = w.reserve(8);
  const b = w.view();
  b.writeUInt8(familyOf(a.ip), off);
  b.writeUInt8(a.prefixLen, off + 1);
  b.writeUInt8((a.flags ?? 0) & 0xff, off + 2);
  b.writeUInt8(a.scope ?? RT_SCOPE_UNIVERSE, off + 3);
  b.writeUInt32LE(a.linkIndex, off + 4);
  w.bytes(IFA_LOCAL, a.ip.toBytes());
  w.bytes(IFA_ADDRESS, a.ip.toBytes());
  if (a.label) w.str(IFA_LABEL, a.label);
  if (a.flags && a.flags > 0xff) w.u32(IFA_FLAGS, a.flags);
}

/** struct ifaddrmsg for a dump filtered by family. */
export function encodeAddrDump(w: MessageWriter, family: number, linkIndex = 0): void {
  const off = w.reserve(8);
  w.view().writeUInt8(family, off);
  w.view().writeUInt32LE(linkIndex, off + 4);
}

export function decodeAddr(payload: Buffer): Addr | undefined {
  const family = payload.readUInt8(0);
  if (family !== AF_INET && family !== AF_INET6) return undefined;
  const a = parseAttrs(payload, 8);
  const raw = a.get(IFA_LOCAL) ?? a.get(IFA_ADDRESS);
  if (!raw) return undefined;
  return {
    linkIndex: payload.readUInt32LE(4),
    ip: IP.fromBytes(raw),
    prefixLen: payload.readUInt8(1),
    scope: payload.readUInt8(3),
    flags: attrU32(a.get(IFA_FLAGS)) ?? payload.readUInt8(2),
    label: attrStr(a.get(IFA_LABEL)),
  };
}

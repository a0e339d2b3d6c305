// XFRM policies, the kernel's IPsec security policy database (`ip xfrm policy`), over NETLINK_XFRM. A
// policy is a selector (source and destination prefixes, of one family), a direction and the templates of
// the SAs that must transform matching packets. Requests carry fixed structs from linux/xfrm.h:
// xfrm_userpolicy_info (a new or replaced policy) or xfrm_userpolicy_id (a policy named by its selector),
// then attributes: XFRMA_TMPL (an array of xfrm_user_tmpl) and XFRMA_MARK. The bytes are those `ip xfrm`
// sends (see the tests), lifetimes included: no byte or packet limit (XFRM_INF), no expiry.
import { IP } from '../ip/ip.js';
import { IPNet } from '../ip/ipnet.js';
import { NetlinkArgumentError } from './errors.js';
import { parseAttrs, type Attrs, type MessageWriter } from './nl/attrs.js';
import {
  AF_INET,
  AF_INET6,
  IPPROTO_AH,
  IPPROTO_COMP,
  IPPROTO_DSTOPTS,
  IPPROTO_ESP,
  IPPROTO_ROUTING,
  SIZEOF_XFRM_USER_POLEXPIRE,
  SIZEOF_XFRM_USER_TMPL,
  SIZEOF_XFRM_USERPOLICY_ID,
  SIZEOF_XFRM_USERPOLICY_INFO,
  XFRM_MODE_BEET,
  XFRM_MODE_IN_TRIGGER,
  XFRM_MODE_ROUTEOPTIMIZATION,
  XFRM_MODE_TRANSPORT,
  XFRM_MODE_TUNNEL,
  XFRM_MSG_DELPOLICY,
  XFRM_MSG_FLUSHPOLICY,
  XFRM_MSG_NEWPOLICY,
  XFRM_MSG_POLEXPIRE,
  XFRM_MSG_UPDPOLICY,
  XFRM_POLICY_ALLOW,
  XFRM_POLICY_BLOCK,
  XFRM_POLICY_FWD,
  XFRM_POLICY_IN,
  XFRM_POLICY_OUT,
  XFRMA_MARK,
  XFRMA_POLICY,
  XFRMA_POLICY_TYPE,
  XFRMA_TMPL,
  XFRM_POLICY_TYPE_MAIN,
} from './nl/constants.js';

export type XfrmDir = 'in' | 'out' | 'fwd';
/** The SA protocol a template asks for, in iproute2's words (route2 and hao are Mobile IPv6's). */
export type XfrmProto = 'esp' | 'ah' | 'comp' | 'route2' | 'hao';
export type XfrmMode = 'transport' | 'tunnel' | 'ro' | 'in_trigger' | 'beet';

/** One template (`tmpl src A dst B proto esp reqid 11 mode tunnel`): the SA that must process the packet. */
export interface XfrmTmpl {
  /** The tunnel's outer addresses (one family; it may differ from the selector's). */
  src: IP;
  dst: IP;
  proto: XfrmProto;
  mode: XfrmMode;
  /** Binds the policy to SAs of the same reqid (charon installs flannel's with reqid 11). */
  reqid: number;
  /** 0 or absent: any SPI. */
  spi?: number | undefined;
}

export interface XfrmMark {
  value: number;
  mask: number;
}

/** A policy: `ip xfrm policy update src S dst D dir DIR [priority P] [mark V/M] tmpl …`. */
export interface XfrmPolicy {
  /** The selector; its family is theirs (both of one family). */
  src: IPNet;
  dst: IPNet;
  dir: XfrmDir;
  /** Lower wins among overlapping policies; 0 when absent. */
  priority?: number | undefined;
  /** As the kernel reports it (its low 3 bits are the direction); 0 or absent lets the kernel choose. */
  index?: number | undefined;
  /** 'allow' when absent: packets must match the templates. 'block' drops them. */
  action?: 'allow' | 'block' | undefined;
  tmpls: XfrmTmpl[];
  mark?: XfrmMark | undefined;
}

/** What names a policy for deletion: its selector, direction and mark. */
export type XfrmPolicySelector = Pick<XfrmPolicy, 'src' | 'dst' | 'dir' | 'mark'>;

/** A change in the policy database (`ip xfrm monitor policy`); a flush removed every policy. */
export type XfrmPolicyEvent = { topic: 'xfrm-policy'; action: 'new' | 'del'; policy: XfrmPolicy } | { topic: 'xfrm-policy'; action: 'flush' };

const DIRS: Record<XfrmDir, number> = { in: XFRM_POLICY_IN, out: XFRM_POLICY_OUT, fwd: XFRM_POLICY_FWD };
const PROTOS: Record<XfrmProto, number> = { esp: IPPROTO_ESP, ah: IPPROTO_AH, comp: IPPROTO_COMP, route2: IPPROTO_ROUTING, hao: IPPROTO_DSTOPTS };
const MODES: Record<XfrmMode, number> = {
  transport: XFRM_MODE_TRANSPORT,
  tunnel: XFRM_MODE_TUNNEL,
  ro: XFRM_MODE_ROUTEOPTIMIZATION,
  in_trigger: XFRM_MODE_IN_TRIGGER,
  beet: XFRM_MODE_BEET,
};
const nameOf = <K extends string>(table: Record<K, number>, n: number): K | undefined => (Object.keys(table) as K[]).find((k) => table[k] === n);

// Offsets inside the structs (x86-64 and every other 64-bit Linux: see nl/constants.ts for the sizes).
const SEL_DADDR = 0;
const SEL_SADDR = 16;
const SEL_FAMILY = 40;
const SEL_PREFIXLEN_D = 42;
const SEL_PREFIXLEN_S = 43;
const INFO_LFT = 56; // xfrm_lifetime_cfg: soft/hard byte limits, soft/hard packet limits, then 4 expiry times
const INFO_PRIORITY = 152;
const INFO_INDEX = 156;
const INFO_DIR = 160;
const INFO_ACTION = 161;
const ID_INDEX = 56;
const ID_DIR = 60;
const TMPL_DADDR = 0;
const TMPL_SPI = 16;
const TMPL_PROTO = 20;
const TMPL_FAMILY = 24;
const TMPL_SADDR = 28;
const TMPL_REQID = 44;
const TMPL_MODE = 48;
const TMPL_ALGOS = 52; // aalgos, ealgos, calgos: all ones = any algorithm, as ip xfrm sends
const U32_MAX = 0xffffffff;

const afOf = (family: 4 | 6) => (family === 4 ? AF_INET : AF_INET6);
const hex = (n: number) => `0x${n.toString(16)}`;
/** A zero mark is no mark, to the kernel as here. */
const markText = (m: XfrmMark | undefined) => (m && (m.value || m.mask) ? ` mark ${hex(m.value)}/${hex(m.mask)}` : '');
const isU32 = (n: number | undefined) => n === undefined || (Number.isInteger(n) && n >= 0 && n <= U32_MAX);

/** `ip xfrm policy VERB …` (update, add), for error messages and logs. */
export function describeXfrmPolicy(verb: string, p: XfrmPolicy): string {
  const parts = [describeXfrmSelector(verb, p)];
  if (p.priority) parts.push(`priority ${p.priority}`);
  if (p.index) parts.push(`index ${p.index}`);
  if (p.action === 'block') parts.push('action block');
  for (const t of p.tmpls) {
    parts.push(`tmpl src ${t.src} dst ${t.dst} proto ${t.proto}${t.spi ? ` spi ${hex(t.spi)}` : ''} reqid ${t.reqid} mode ${t.mode}`);
  }
  return parts.join(' ');
}

/** `ip xfrm policy delete src S dst D dir DIR [mark V/M]`: what names one policy. */
export function describeXfrmSelector(verb: string, p: XfrmPolicySelector): string {
  return `ip xfrm policy ${verb} src ${p.src} dst ${p.dst} dir ${p.dir}${markText(p.mark)}`;
}

/**
 * Identity of a policy in the kernel: at most one per selector, direction and mark (`xfrm-policy out
 * 10.244.1.0/24 10.244.2.0/24`), for keying kernel entries.
 */
export function xfrmPolicyKey(p: XfrmPolicySelector): string {
  return `xfrm-policy ${p.dir} ${p.src} ${p.dst}${markText(p.mark)}`;
}

/** Throws NetlinkArgumentError, naming the field and what it must be, before anything is sent. */
export function checkXfrmSelector(p: XfrmPolicySelector): void {
  const what = `xfrm policy ${p.dir} ${p.src} -> ${p.dst}`;
  if (!Object.hasOwn(DIRS, p.dir)) throw new NetlinkArgumentError(`${what}: dir must be in, out or fwd`);
  if (p.src.family !== p.dst.family) {
    throw new NetlinkArgumentError(`${what}: src is IPv${p.src.family} but dst is IPv${p.dst.family}; a selector has one family`);
  }
  if (p.mark && !(isU32(p.mark.value) && isU32(p.mark.mask))) throw new NetlinkArgumentError(`${what}: mark value and mask must be 32-bit unsigned integers`);
}

/** checkXfrmSelector, and the rest of a policy: priority, index, action, templates. */
export function checkXfrmPolicy(p: XfrmPolicy): void {
  checkXfrmSelector(p);
  const what = `xfrm policy ${p.dir} ${p.src} -> ${p.dst}`;
  if (!isU32(p.priority)) throw new NetlinkArgumentError(`${what}: priority must be a 32-bit unsigned integer`);
  if (!isU32(p.index)) throw new NetlinkArgumentError(`${what}: index must be a 32-bit unsigned integer`);
  if (p.action !== undefined && p.action !== 'allow' && p.action !== 'block') throw new NetlinkArgumentError(`${what}: action must be allow or block`);
  p.tmpls.forEach((t, i) => {
    const tw = `${what}: tmpl ${i}`;
    if (t.src.family !== t.dst.family) throw new NetlinkArgumentError(`${tw}: src ${t.src} and dst ${t.dst} must be of one family`);
    if (!Object.hasOwn(PROTOS, t.proto)) throw new NetlinkArgumentError(`${tw}: proto must be one of ${Object.keys(PROTOS).join(', ')}`);
    if (!Object.hasOwn(MODES, t.mode)) throw new NetlinkArgumentError(`${tw}: mode must be one of ${Object.keys(MODES).join(', ')}`);
    if (!isU32(t.reqid)) throw new NetlinkArgumentError(`${tw}: reqid must be a 32-bit unsigned integer`);
    if (!isU32(t.spi)) throw new NetlinkArgumentError(`${tw}: spi must be a 32-bit unsigned integer`);
  });
}

/** XFRM_MSG_NEWPOLICY / UPDPOLICY body: xfrm_userpolicy_info, XFRMA_TMPL, XFRMA_MARK. */
export function encodeXfrmPolicy(w: MessageWriter, p: XfrmPolicy): void {
  const off = w.reserve(SIZEOF_XFRM_USERPOLICY_INFO);
  const b = w.view();
  writeSelector(b, off, p.src, p.dst);
  b.fill(0xff, off + INFO_LFT, off + INFO_LFT + 4 * 8);
  b.writeUInt32LE(p.priority ?? 0, off + INFO_PRIORITY);
  b.writeUInt32LE(p.index ?? 0, off + INFO_INDEX);
  b.writeUInt8(DIRS[p.dir], off + INFO_DIR);
  b.writeUInt8(p.action === 'block' ? XFRM_POLICY_BLOCK : XFRM_POLICY_ALLOW, off + INFO_ACTION);
  if (p.tmpls.length > 0) w.bytes(XFRMA_TMPL, encodeTmpls(p.tmpls));
  writeMark(w, p.mark);
}

/** XFRM_MSG_DELPOLICY (or GETPOLICY) body naming the policy by selector: xfrm_userpolicy_id, XFRMA_MARK. */
export function encodeXfrmPolicyId(w: MessageWriter, p: XfrmPolicySelector): void {
  const off = w.reserve(SIZEOF_XFRM_USERPOLICY_ID);
  const b = w.view();
  writeSelector(b, off, p.src, p.dst);
  b.writeUInt32LE(0, off + ID_INDEX);
  b.writeUInt8(DIRS[p.dir], off + ID_DIR);
  writeMark(w, p.mark);
}

function writeSelector(b: Buffer, off: number, src: IPNet, dst: IPNet): void {
  b.set(dst.ip.toBytes(), off + SEL_DADDR);
  b.set(src.ip.toBytes(), off + SEL_SADDR);
  b.writeUInt16LE(afOf(src.family), off + SEL_FAMILY);
  b.writeUInt8(dst.prefixLen, off + SEL_PREFIXLEN_D);
  b.writeUInt8(src.prefixLen, off + SEL_PREFIXLEN_S);
}

function encodeTmpls(tmpls: readonly XfrmTmpl[]): Buffer {
  const b = Buffer.alloc(tmpls.length * SIZEOF_XFRM_USER_TMPL);
  tmpls.forEach((t, i) => {
    const off = i * SIZEOF_XFRM_USER_TMPL;
    b.set(t.dst.toBytes(), off + TMPL_DADDR);
    b.writeUInt32BE(t.spi ?? 0, off + TMPL_SPI); // network byte order, as in the ESP header
    b.writeUInt8(PROTOS[t.proto], off + TMPL_PROTO);
    b.writeUInt16LE(afOf(t.dst.family), off + TMPL_FAMILY);
    b.set(t.src.toBytes(), off + TMPL_SADDR);
    b.writeUInt32LE(t.reqid, off + TMPL_REQID);
    b.writeUInt8(MODES[t.mode], off + TMPL_MODE);
    b.fill(0xff, off + TMPL_ALGOS, off + TMPL_ALGOS + 12);
  });
  return b;
}

function writeMark(w: MessageWriter, mark: XfrmMark | undefined): void {
  if (!mark || !markText(mark)) return;
  const m = Buffer.alloc(8);
  m.writeUInt32LE(mark.value >>> 0, 0);
  m.writeUInt32LE(mark.mask >>> 0, 4);
  w.bytes(XFRMA_MARK, m);
}

/**
 * One XFRM_MSG_NEWPOLICY of a dump; undefined for what lies outside the main policy database (per-socket
 * policies, Mobile IPv6's sub policies), which requests here can neither name nor change.
 */
export function decodeXfrmPolicy(payload: Buffer): XfrmPolicy | undefined {
  if (payload.length < SIZEOF_XFRM_USERPOLICY_INFO) return undefined;
  return decodePolicyInfo(payload.subarray(0, SIZEOF_XFRM_USERPOLICY_INFO), parseAttrs(payload, SIZEOF_XFRM_USERPOLICY_INFO));
}

/** A notification of the XFRM policy group (and a hard policy expiry, which removed it). */
export function decodeXfrmPolicyEvent(type: number, payload: Buffer): XfrmPolicyEvent | undefined {
  switch (type) {
    case XFRM_MSG_NEWPOLICY:
    case XFRM_MSG_UPDPOLICY: {
      const policy = decodeXfrmPolicy(payload);
      return policy && { topic: 'xfrm-policy', action: 'new', policy };
    }
    case XFRM_MSG_DELPOLICY: {
      // xfrm_userpolicy_id, then the whole policy in XFRMA_POLICY; its templates and mark are top-level.
      const attrs = parseAttrs(payload, SIZEOF_XFRM_USERPOLICY_ID);
      const info = attrs.get(XFRMA_POLICY);
      const policy = info && info.length >= SIZEOF_XFRM_USERPOLICY_INFO ? decodePolicyInfo(info, attrs) : undefined;
      return policy && { topic: 'xfrm-policy', action: 'del', policy };
    }
    case XFRM_MSG_POLEXPIRE: {
      // xfrm_user_polexpire: the policy, then `hard` (the kernel deleted it; soft is only a warning).
      if (payload.length < SIZEOF_XFRM_USER_POLEXPIRE || payload.readUInt8(SIZEOF_XFRM_USERPOLICY_INFO) === 0) return undefined;
      const policy = decodePolicyInfo(payload.subarray(0, SIZEOF_XFRM_USERPOLICY_INFO), parseAttrs(payload, SIZEOF_XFRM_USER_POLEXPIRE));
      return policy && { topic: 'xfrm-policy', action: 'del', policy };
    }
    case XFRM_MSG_FLUSHPOLICY:
      return { topic: 'xfrm-policy', action: 'flush' };
    default:
      return undefined;
  }
}

function decodePolicyInfo(info: Buffer, attrs: Attrs): XfrmPolicy | undefined {
  const dir = nameOf(DIRS, info.readUInt8(INFO_DIR));
  const sel = decodeSelector(info);
  const type = attrs.get(XFRMA_POLICY_TYPE)?.readUInt8(0) ?? XFRM_POLICY_TYPE_MAIN;
  if (!dir || !sel || type !== XFRM_POLICY_TYPE_MAIN) return undefined;
  const policy: XfrmPolicy = {
    ...sel,
    dir,
    priority: info.readUInt32LE(INFO_PRIORITY),
    index: info.readUInt32LE(INFO_INDEX),
    tmpls: decodeTmpls(attrs.get(XFRMA_TMPL)),
  };
  if (info.readUInt8(INFO_ACTION) === XFRM_POLICY_BLOCK) policy.action = 'block';
  const mark = attrs.get(XFRMA_MARK);
  if (mark && mark.length >= 8 && (mark.readUInt32LE(0) || mark.readUInt32LE(4))) policy.mark = { value: mark.readUInt32LE(0), mask: mark.readUInt32LE(4) };
  return policy;
}

function decodeSelector(b: Buffer): { src: IPNet; dst: IPNet } | undefined {
  const len = addrLen(b.readUInt16LE(SEL_FAMILY));
  if (!len || b.readUInt8(SEL_PREFIXLEN_S) > len * 8 || b.readUInt8(SEL_PREFIXLEN_D) > len * 8) return undefined;
  return {
    src: new IPNet(IP.fromBytes(b.subarray(SEL_SADDR, SEL_SADDR + len)), b.readUInt8(SEL_PREFIXLEN_S)),
    dst: new IPNet(IP.fromBytes(b.subarray(SEL_DADDR, SEL_DADDR + len)), b.readUInt8(SEL_PREFIXLEN_D)),
  };
}

function decodeTmpls(raw: Buffer | undefined): XfrmTmpl[] {
  const out: XfrmTmpl[] = [];
  for (let off = 0; raw && off + SIZEOF_XFRM_USER_TMPL <= raw.length; off += SIZEOF_XFRM_USER_TMPL) {
    const len = addrLen(raw.readUInt16LE(off + TMPL_FAMILY));
    const proto = nameOf(PROTOS, raw.readUInt8(off + TMPL_PROTO));
    const mode = nameOf(MODES, raw.readUInt8(off + TMPL_MODE));
    if (!len || !proto || !mode) continue; // nothing the kernel accepts today
    const tmpl: XfrmTmpl = {
      src: IP.fromBytes(raw.subarray(off + TMPL_SADDR, off + TMPL_SADDR + len)),
      dst: IP.fromBytes(raw.subarray(off + TMPL_DADDR, off + TMPL_DADDR + len)),
      proto,
      mode,
      reqid: raw.readUInt32LE(off + TMPL_REQID),
    };
    const spi = raw.readUInt32BE(off + TMPL_SPI);
    if (spi) tmpl.spi = spi;
    out.push(tmpl);
  }
  return out;
}

const addrLen = (af: number) => (af === AF_INET ? 4 : af === AF_INET6 ? 16 : 0);

// WireGuard's generic netlink family (include/uapi/linux/wireguard.h): WG_CMD_GET_DEVICE (a dump, whose
// replies may spread one device's peers, and one peer's allowed IPs, over several messages) and
// WG_CMD_SET_DEVICE (whose input may have to be split over several messages: attribute lengths are 16-bit,
// so a nest of peers cannot pass 64 KiB, and wg(8) keeps each message within a page). Attributes are
// written in wg(8)'s order, so that our messages are byte for byte what `wg set` sends (see the tests).
import { timingSafeEqual } from 'node:crypto';
import { inspect } from 'node:util';
import { IP } from '../ip/ip.js';
import { IPNet } from '../ip/ipnet.js';
import { NetlinkArgumentError } from './errors.js';
import { attrList, writeGenlHeader } from './genl.js';
import { attrStr, attrU32, parseAttrs, type MessageWriter } from './nl/attrs.js';
import {
  AF_INET,
  AF_INET6,
  GENL_HDRLEN,
  NLMSG_HDRLEN,
  WG_CMD_GET_DEVICE,
  WG_CMD_SET_DEVICE,
  WG_GENL_NAME,
  WG_GENL_VERSION,
  WG_KEY_LEN,
  WGALLOWEDIP_A_CIDR_MASK,
  WGALLOWEDIP_A_FAMILY,
  WGALLOWEDIP_A_IPADDR,
  WGDEVICE_A_FLAGS,
  WGDEVICE_A_FWMARK,
  WGDEVICE_A_IFINDEX,
  WGDEVICE_A_IFNAME,
  WGDEVICE_A_LISTEN_PORT,
  WGDEVICE_A_PEERS,
  WGDEVICE_A_PRIVATE_KEY,
  WGDEVICE_A_PUBLIC_KEY,
  WGDEVICE_F_REPLACE_PEERS,
  WGPEER_A_ALLOWEDIPS,
  WGPEER_A_ENDPOINT,
  WGPEER_A_FLAGS,
  WGPEER_A_LAST_HANDSHAKE_TIME,
  WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL,
  WGPEER_A_PRESHARED_KEY,
  WGPEER_A_PROTOCOL_VERSION,
  WGPEER_A_PUBLIC_KEY,
  WGPEER_A_RX_BYTES,
  WGPEER_A_TX_BYTES,
  WGPEER_F_REMOVE_ME,
  WGPEER_F_REPLACE_ALLOWEDIPS,
  WGPEER_F_UPDATE_ONLY,
} from './nl/constants.js';
import { checkLinkName } from './link.js';
import type { NetlinkRequest } from './socket/netlink-socket.js';

const HIDDEN = '(hidden)';

/**
 * A WireGuard private key or pre-shared key: 32 bytes that never print. `String()`, JSON and
 * `util.inspect` (hence every logger) show "(hidden)"; `bytes()` is the one way to read them.
 */
export class WgSecret {
  readonly #bytes: Buffer;

  constructor(bytes: Uint8Array) {
    if (bytes.length !== WG_KEY_LEN) throw new NetlinkArgumentError(`a WireGuard key is ${WG_KEY_LEN} bytes, not ${bytes.length}`);
    this.#bytes = Buffer.from(bytes);
  }

  /** A key in wg(8)'s text form (44 characters of base64); the error never repeats the text. */
  static fromBase64(text: string): WgSecret {
    return new WgSecret(wgKeyFromBase64(text, 'key'));
  }

  /** A copy of the key's bytes. */
  bytes(): Buffer {
    return Buffer.from(this.#bytes);
  }

  /** The key in wg(8)'s text form, for writing it to its file. */
  toBase64(): string {
    return this.#bytes.toString('base64');
  }

  equals(other: WgSecret | undefined): boolean {
    return other !== undefined && timingSafeEqual(this.#bytes, other.#bytes);
  }

  /** All zeros: "no key" to the kernel. */
  isZero(): boolean {
    return this.#bytes.every((b) => b === 0);
  }

  toString(): string {
    return HIDDEN;
  }

  toJSON(): string {
    return HIDDEN;
  }

  [inspect.custom](): string {
    return `WgSecret ${HIDDEN}`;
  }
}

/** wg(8)'s text form of a key: base64 of 32 bytes (44 characters with one '='). */
export function wgKeyToBase64(key: Uint8Array): string {
  return Buffer.from(key).toString('base64');
}

/**
 * The 32 bytes of a key in wg(8)'s text form. Surrounding whitespace is allowed (a key file's newline);
 * anything else is refused with a message that names `what` and never quotes the text.
 */
export function wgKeyFromBase64(text: string, what = 'public key'): Buffer {
  const t = text.trim();
  if (!/^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/.test(t)) {
    throw new NetlinkArgumentError(`the ${what} is not a WireGuard key: 44 characters of base64 (32 bytes) expected, found ${t.length} characters`);
  }
  return Buffer.from(t, 'base64');
}

/** A peer's UDP endpoint. */
export interface WgEndpoint {
  ip: IP;
  port: number;
}

/** `ip:port`, or `[ip6]:port`. */
export const formatEndpoint = (e: WgEndpoint) => (e.ip.family === 6 ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`);

/** One peer as WG_CMD_GET_DEVICE reports it (`wg show`). */
export interface WgPeer {
  publicKey: Buffer;
  /** Absent when the peer has none (the kernel reports 32 zero bytes). */
  presharedKey?: WgSecret | undefined;
  endpoint?: WgEndpoint | undefined;
  /** Seconds; 0 is off. */
  persistentKeepalive: number;
  /** Absent before the first handshake. */
  latestHandshake?: Date | undefined;
  rxBytes: bigint;
  txBytes: bigint;
  allowedIPs: IPNet[];
  protocolVersion: number;
}

/** A wireguard device as WG_CMD_GET_DEVICE reports it (`wg show`): its keys, port, fwmark and peers. */
export interface WgDevice {
  ifindex: number;
  name: string;
  privateKey?: WgSecret | undefined;
  publicKey?: Buffer | undefined;
  listenPort: number;
  fwmark: number;
  peers: WgPeer[];
}

/** One peer of a WG_CMD_SET_DEVICE (`wg set DEV peer KEY …`); absent fields are left as they are. */
export interface WgPeerConfig {
  publicKey: Uint8Array;
  /** `remove`: the peer must not exist afterwards; every other field is then ignored. */
  remove?: boolean;
  /** Only change the peer if it exists (WGPEER_F_UPDATE_ONLY). */
  updateOnly?: boolean;
  /** null removes it (all zeros on the wire). */
  presharedKey?: WgSecret | null;
  endpoint?: WgEndpoint;
  /** Seconds, 0 to 65535; 0 turns it off. */
  persistentKeepalive?: number;
  /** Remove the peer's allowed IPs before adding `allowedIPs` (what `wg set … allowed-ips` does). */
  replaceAllowedIPs?: boolean;
  allowedIPs?: readonly IPNet[];
}

/** A WG_CMD_SET_DEVICE (`wg set DEV …`): the device by name or index; absent fields are left as they are. */
export interface WgDeviceConfig {
  device: string | number;
  /** null removes it (all zeros on the wire). */
  privateKey?: WgSecret | null;
  /** 0 picks a random port. */
  listenPort?: number;
  /** 0 turns it off. */
  fwmark?: number;
  /** Remove every peer before adding `peers`. */
  replacePeers?: boolean;
  peers?: readonly WgPeerConfig[];
}

/**
 * The largest WG_CMD_SET_DEVICE message we build, header included: wg(8)'s own (libmnl's socket buffer,
 * a page, 8 KiB at most). Far below the 64 KiB a 16-bit attribute length allows for the peers' nest.
 */
export const WG_SET_MESSAGE_BYTES = 4096;

const ZERO_KEY = new Uint8Array(WG_KEY_LEN);
const SOCKADDR_IN = 16;
const SOCKADDR_IN6 = 28;
const attrSize = (payload: number) => 4 + ((payload + 3) & ~3);
const allowedIPSize = (n: IPNet) => 4 + attrSize(2) + attrSize(n.family === 4 ? 4 : 16) + attrSize(1);

function deviceRefSize(device: string | number): number {
  return typeof device === 'number' ? attrSize(4) : attrSize(Buffer.byteLength(device) + 1);
}

/** The device-level attributes of the first message (not repeated in continuations). */
function deviceHeadSize(c: WgDeviceConfig): number {
  let n = 0;
  if (c.privateKey !== undefined) n += attrSize(WG_KEY_LEN);
  if (c.listenPort !== undefined) n += attrSize(2);
  if (c.fwmark !== undefined) n += attrSize(4);
  if (c.replacePeers) n += attrSize(4);
  return n;
}

function peerFlags(p: WgPeerConfig, first: boolean): number {
  let f = 0;
  if (p.remove) f |= WGPEER_F_REMOVE_ME;
  if (p.updateOnly) f |= WGPEER_F_UPDATE_ONLY;
  if (first && p.replaceAllowedIPs && !p.remove) f |= WGPEER_F_REPLACE_ALLOWEDIPS;
  return f;
}

/** A peer's attributes without its allowed IPs: everything on its first fragment, its key (and flags) after. */
function peerHeadSize(p: WgPeerConfig, first: boolean): number {
  let n = 4 + attrSize(WG_KEY_LEN);
  if (first && !p.remove) {
    if (p.presharedKey !== undefined) n += attrSize(WG_KEY_LEN);
    if (p.endpoint) n += attrSize(p.endpoint.ip.family === 4 ? SOCKADDR_IN : SOCKADDR_IN6);
    if (p.persistentKeepalive !== undefined) n += attrSize(2);
  }
  if (peerFlags(p, first)) n += attrSize(4);
  return n;
}

interface PeerFragment {
  peer: WgPeerConfig;
  first: boolean;
  allowedIPs: readonly IPNet[];
}

interface Fragment {
  first: boolean;
  peers: PeerFragment[];
}

/**
 * Splits a configuration into messages of at most `maxBytes` as the kernel's documentation asks: the device's
 * own settings (and REPLACE_PEERS) only in the first, each peer's settings (and REPLACE_ALLOWEDIPS) only in
 * its first fragment, the following ones carrying its key and more allowed IPs.
 */
function planFragments(c: WgDeviceConfig, maxBytes: number): Fragment[] {
  const base = NLMSG_HDRLEN + GENL_HDRLEN + deviceRefSize(c.device);
  const fragments: Fragment[] = [];
  let cur: Fragment = { first: true, peers: [] };
  let size = base + deviceHeadSize(c);
  const flush = () => {
    fragments.push(cur);
    cur = { first: false, peers: [] };
    size = base;
  };
  for (const peer of c.peers ?? []) {
    const ips = peer.remove ? [] : [...(peer.allowedIPs ?? [])];
    let first = true;
    let i = 0;
    for (;;) {
      // This fragment of the peer: the peers' nest (if the message has none yet), the peer's head, and the
      // allowed IPs' nest with at least one of them when some are left.
      const head = (cur.peers.length === 0 ? 4 : 0) + peerHeadSize(peer, first) + (i < ips.length ? 4 : 0);
      if (size + head + (i < ips.length ? allowedIPSize(ips[i]!) : 0) > maxBytes) {
        if (cur.peers.length === 0 && !cur.first) throw new NetlinkArgumentError(`a WireGuard peer does not fit in a ${maxBytes}-byte message`);
        flush();
        continue;
      }
      size += head;
      let n = 0;
      while (i + n < ips.length && size + allowedIPSize(ips[i + n]!) <= maxBytes) size += allowedIPSize(ips[i + n++]!);
      cur.peers.push({ peer, first, allowedIPs: ips.slice(i, i + n) });
      i += n;
      first = false;
      if (i >= ips.length) break;
      flush();
    }
  }
  fragments.push(cur);
  return fragments;
}

function writeDeviceRef(w: MessageWriter, device: string | number): void {
  if (typeof device === 'number') w.u32(WGDEVICE_A_IFINDEX, device);
  else w.str(WGDEVICE_A_IFNAME, device);
}

function writeEndpoint(w: MessageWriter, e: WgEndpoint): void {
  const sa = Buffer.alloc(e.ip.family === 4 ? SOCKADDR_IN : SOCKADDR_IN6);
  sa.writeUInt16LE(e.ip.family === 4 ? AF_INET : AF_INET6, 0);
  sa.writeUInt16BE(e.port, 2);
  Buffer.from(e.ip.toBytes()).copy(sa, e.ip.family === 4 ? 4 : 8);
  w.bytes(WGPEER_A_ENDPOINT, sa);
}

function writeFragment(w: MessageWriter, c: WgDeviceConfig, f: Fragment): void {
  writeGenlHeader(w, WG_CMD_SET_DEVICE, WG_GENL_VERSION);
  writeDeviceRef(w, c.device);
  if (f.first) {
    if (c.privateKey !== undefined) w.bytes(WGDEVICE_A_PRIVATE_KEY, c.privateKey ? c.privateKey.bytes() : ZERO_KEY);
    if (c.listenPort !== undefined) w.u16(WGDEVICE_A_LISTEN_PORT, c.listenPort);
    if (c.fwmark !== undefined) w.u32(WGDEVICE_A_FWMARK, c.fwmark);
    if (c.replacePeers) w.u32(WGDEVICE_A_FLAGS, WGDEVICE_F_REPLACE_PEERS);
  }
  if (f.peers.length === 0) return;
  w.nest(WGDEVICE_A_PEERS, () => {
    for (const { peer: p, first, allowedIPs } of f.peers) {
      w.nest(0, () => {
        w.bytes(WGPEER_A_PUBLIC_KEY, p.publicKey);
        if (first && !p.remove) {
          if (p.presharedKey !== undefined) w.bytes(WGPEER_A_PRESHARED_KEY, p.presharedKey ? p.presharedKey.bytes() : ZERO_KEY);
          if (p.endpoint) writeEndpoint(w, p.endpoint);
          if (p.persistentKeepalive !== undefined) w.u16(WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, p.persistentKeepalive);
        }
        const flags = peerFlags(p, first);
        if (flags) w.u32(WGPEER_A_FLAGS, flags);
        if (allowedIPs.length === 0) return;
        w.nest(WGPEER_A_ALLOWEDIPS, () => {
          for (const n of allowedIPs) {
            w.nest(0, () => {
              w.u16(WGALLOWEDIP_A_FAMILY, n.family === 4 ? AF_INET : AF_INET6);
              w.bytes(WGALLOWEDIP_A_IPADDR, n.ip.toBytes());
              w.u8(WGALLOWEDIP_A_CIDR_MASK, n.prefixLen);
            });
          }
        });
      });
    }
  });
}

function checkConfig(c: WgDeviceConfig): void {
  if (typeof c.device === 'string') checkLinkName(c.device);
  else if (!Number.isInteger(c.device) || c.device <= 0) throw new NetlinkArgumentError(`invalid device index ${c.device}`);
  const u16 = (what: string, v: number | undefined) => {
    if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > 0xffff)) throw new NetlinkArgumentError(`invalid ${what} ${v}: 0..65535`);
  };
  u16('listen port', c.listenPort);
  if (c.fwmark !== undefined && (!Number.isInteger(c.fwmark) || c.fwmark < 0 || c.fwmark > 0xffffffff))
    throw new NetlinkArgumentError(`invalid fwmark ${c.fwmark}`);
  for (const p of c.peers ?? []) {
    if (p.publicKey.length !== WG_KEY_LEN) throw new NetlinkArgumentError(`a WireGuard public key is ${WG_KEY_LEN} bytes, not ${p.publicKey.length}`);
    u16('persistent keepalive', p.persistentKeepalive);
    if (p.endpoint) {
      if (!Number.isInteger(p.endpoint.port) || p.endpoint.port < 1 || p.endpoint.port > 0xffff)
        throw new NetlinkArgumentError(`invalid endpoint port ${p.endpoint.port}: 1..65535`);
    }
  }
}

/** wg(8)'s words for one message, for error messages and the fake kernel's log; keys show as "(hidden)". */
export function describeWgSet(c: WgDeviceConfig): string {
  const dev = typeof c.device === 'number' ? `#${c.device}` : c.device;
  const parts = [`wg set ${dev}`];
  if (c.privateKey !== undefined) parts.push(`private-key ${c.privateKey ? HIDDEN : 'none'}`);
  if (c.listenPort !== undefined) parts.push(`listen-port ${c.listenPort}`);
  if (c.fwmark !== undefined) parts.push(`fwmark ${c.fwmark}`);
  if (c.replacePeers) parts.push('replace-peers');
  for (const p of c.peers ?? []) {
    parts.push(`peer ${wgKeyToBase64(p.publicKey)}`);
    if (p.remove) {
      parts.push('remove');
      continue;
    }
    if (p.updateOnly) parts.push('update-only');
    if (p.presharedKey !== undefined) parts.push(`preshared-key ${p.presharedKey ? HIDDEN : 'none'}`);
    if (p.endpoint) parts.push(`endpoint ${formatEndpoint(p.endpoint)}`);
    if (p.persistentKeepalive !== undefined) parts.push(`persistent-keepalive ${p.persistentKeepalive || 'off'}`);
    if (p.allowedIPs !== undefined || p.replaceAllowedIPs)
      parts.push(`${p.replaceAllowedIPs ? '' : 'add-'}allowed-ips ${p.allowedIPs?.join(',') ?? ''}`.trimEnd());
  }
  return parts.join(' ');
}

/**
 * WG_CMD_SET_DEVICE as requests for the generic netlink socket (`Netlink.apply` or `wgSetDevice`), one per
 * message: usually one; more when the peers do not fit in `maxBytes` (see planFragments).
 */
export function wgSetDeviceRequests(c: WgDeviceConfig, maxBytes = WG_SET_MESSAGE_BYTES): NetlinkRequest[] {
  checkConfig(c);
  const fragments = planFragments(c, maxBytes);
  return fragments.map((f) => {
    const part: WgDeviceConfig = fragmentConfig(c, f);
    return {
      type: 0,
      flags: 0,
      genlFamily: WG_GENL_NAME,
      body: (w: MessageWriter) => writeFragment(w, c, f),
      what: { object: 'wireguard', verb: 'set', value: part },
      get op() {
        return describeWgSet(part);
      },
    };
  });
}

/** One fragment as a configuration of its own, which is what it means to the kernel. */
function fragmentConfig(c: WgDeviceConfig, f: Fragment): WgDeviceConfig {
  const out: WgDeviceConfig = { device: c.device };
  if (f.first) {
    if (c.privateKey !== undefined) out.privateKey = c.privateKey;
    if (c.listenPort !== undefined) out.listenPort = c.listenPort;
    if (c.fwmark !== undefined) out.fwmark = c.fwmark;
    if (c.replacePeers) out.replacePeers = true;
  }
  if (f.peers.length > 0) {
    out.peers = f.peers.map(({ peer: p, first, allowedIPs }) => {
      const q: WgPeerConfig = { publicKey: p.publicKey };
      if (p.remove) q.remove = true;
      if (p.updateOnly) q.updateOnly = true;
      if (first && !p.remove) {
        if (p.presharedKey !== undefined) q.presharedKey = p.presharedKey;
        if (p.endpoint) q.endpoint = p.endpoint;
        if (p.persistentKeepalive !== undefined) q.persistentKeepalive = p.persistentKeepalive;
        if (p.replaceAllowedIPs) q.replaceAllowedIPs = true;
      }
      if (allowedIPs.length > 0) q.allowedIPs = allowedIPs;
      return q;
    });
  }
  return out;
}

/** The body of a WG_CMD_GET_DEVICE dump request for one device (by name or index). */
export function encodeWgGetDevice(w: MessageWriter, device: string | number): void {
  if (typeof device === 'string') checkLinkName(device);
  writeGenlHeader(w, WG_CMD_GET_DEVICE, WG_GENL_VERSION);
  writeDeviceRef(w, device);
}

function decodeEndpoint(b: Buffer): WgEndpoint | undefined {
  if (b.length < 2) return undefined;
  const family = b.readUInt16LE(0);
  if (family === AF_INET && b.length >= SOCKADDR_IN) return { ip: IP.fromBytes(b.subarray(4, 8)), port: b.readUInt16BE(2) };
  if (family === AF_INET6 && b.length >= SOCKADDR_IN6) return { ip: IP.fromBytes(b.subarray(8, 24)), port: b.readUInt16BE(2) };
  return undefined;
}

function decodeAllowedIP(b: Buffer): IPNet | undefined {
  const a = parseAttrs(b);
  const family = a.get(WGALLOWEDIP_A_FAMILY)?.readUInt16LE(0);
  const addr = a.get(WGALLOWEDIP_A_IPADDR);
  const cidr = a.get(WGALLOWEDIP_A_CIDR_MASK)?.readUInt8(0);
  if (!addr || cidr === undefined) return undefined;
  if (family === AF_INET && addr.length >= 4) return new IPNet(IP.fromBytes(addr.subarray(0, 4)), cidr);
  if (family === AF_INET6 && addr.length >= 16) return new IPNet(IP.fromBytes(addr.subarray(0, 16)), cidr);
  return undefined;
}

function decodePeer(b: Buffer): WgPeer {
  const a = parseAttrs(b);
  const key = a.get(WGPEER_A_PUBLIC_KEY);
  const psk = a.get(WGPEER_A_PRESHARED_KEY);
  const hs = a.get(WGPEER_A_LAST_HANDSHAKE_TIME);
  const endpoint = a.get(WGPEER_A_ENDPOINT);
  const u64 = (t: number) => {
    const v = a.get(t);
    return v && v.length >= 8 ? v.readBigUInt64LE(0) : 0n;
  };
  const peer: WgPeer = {
    publicKey: Buffer.from(key ?? ZERO_KEY),
    persistentKeepalive: a.get(WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL)?.readUInt16LE(0) ?? 0,
    rxBytes: u64(WGPEER_A_RX_BYTES),
    txBytes: u64(WGPEER_A_TX_BYTES),
    allowedIPs: [],
    protocolVersion: attrU32(a.get(WGPEER_A_PROTOCOL_VERSION)) ?? 0,
  };
  if (psk?.length === WG_KEY_LEN && psk.some((x) => x !== 0)) peer.presharedKey = new WgSecret(psk);
  if (endpoint) peer.endpoint = decodeEndpoint(endpoint);
  if (hs && hs.length >= 16) {
    const sec = hs.readBigInt64LE(0);
    const nsec = hs.readBigInt64LE(8);
    if (sec !== 0n || nsec !== 0n) peer.latestHandshake = new Date(Number(sec) * 1000 + Math.floor(Number(nsec) / 1e6));
  }
  const ips = a.get(WGPEER_A_ALLOWEDIPS);
  if (ips)
    for (const [, ip] of attrList(ips)) {
      const n = decodeAllowedIP(ip);
      if (n) peer.allowedIPs.push(n);
    }
  return peer;
}

/**
 * A device from the payloads (genl header first) of a WG_CMD_GET_DEVICE dump: the device's attributes
 * come with the first message; a peer continued in the next message (same key, adjacent) is merged.
 */
export function decodeWgDevice(payloads: readonly Buffer[]): WgDevice {
  const dev: WgDevice = { ifindex: 0, name: '', listenPort: 0, fwmark: 0, peers: [] };
  for (const payload of payloads) {
    const a = parseAttrs(payload, GENL_HDRLEN);
    const ifindex = attrU32(a.get(WGDEVICE_A_IFINDEX));
    if (ifindex !== undefined) dev.ifindex = ifindex;
    const name = attrStr(a.get(WGDEVICE_A_IFNAME));
    if (name !== undefined) dev.name = name;
    const priv = a.get(WGDEVICE_A_PRIVATE_KEY);
    if (priv?.length === WG_KEY_LEN && priv.some((x) => x !== 0)) dev.privateKey = new WgSecret(priv);
    const pub = a.get(WGDEVICE_A_PUBLIC_KEY);
    if (pub?.length === WG_KEY_LEN && pub.some((x) => x !== 0)) dev.publicKey = Buffer.from(pub);
    const port = a.get(WGDEVICE_A_LISTEN_PORT);
    if (port && port.length >= 2) dev.listenPort = port.readUInt16LE(0);
    const fwmark = attrU32(a.get(WGDEVICE_A_FWMARK));
    if (fwmark !== undefined) dev.fwmark = fwmark;
    const peers = a.get(WGDEVICE_A_PEERS);
    if (!peers) continue;
    for (const [, p] of attrList(peers)) {
      const peer = decodePeer(p);
      const last = dev.peers[dev.peers.length - 1];
      if (last && last.publicKey.equals(peer.publicKey)) last.allowedIPs.push(...peer.allowedIPs);
      else dev.peers.push(peer);
    }
  }
  return dev;
}

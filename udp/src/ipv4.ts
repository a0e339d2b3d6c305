// IPv4 header arithmetic of the udp data path, byte for byte as Go flannel's C proxy (proxy_amd64.c) does it.
// Pure functions over byte arrays: the worker runs them on native memory, the tests on plain Buffers.

export const IPV4_HEADER_LEN = 20;
/** IPv4 + UDP headers: what the encapsulation costs, and what flannel0's MTU is short of the interface's. */
export const UDP_OVERHEAD = 28;
const IPPROTO_ICMP = 1;
const ICMP_DEST_UNREACH = 3;
const ICMP_NET_UNREACH = 0;
/** Go refuses to quote a header of 60 bytes or more (sizeof(iphdr) + MAX_IPOPTLEN): it calls that malformed. */
const MAX_QUOTED_HEADER = 60;
/** ICMP requests (echo, timestamp, information, address mask): the ICMP messages that may be answered with an error. */
const ICMP_QUERIES = new Set([8, 13, 15, 17]);
/** Length of an ICMP net-unreachable for an offender with a plain 20-byte header. */
export const NET_UNREACHABLE_MAX_LEN = IPV4_HEADER_LEN + 8 + (MAX_QUOTED_HEADER - 4) + 8;

/** The destination address of the IPv4 packet at `off`, as an unsigned 32-bit number. */
export function ipv4Dst(b: Uint8Array, off: number): number {
  return ((b[off + 16]! << 24) | (b[off + 17]! << 16) | (b[off + 18]! << 8) | b[off + 19]!) >>> 0;
}

/** The source address of the IPv4 packet at `off`, as an unsigned 32-bit number. */
export function ipv4Src(b: Uint8Array, off: number): number {
  return ((b[off + 12]! << 24) | (b[off + 13]! << 16) | (b[off + 14]! << 8) | b[off + 15]!) >>> 0;
}

/** Whether `len` bytes at `off` start like an IPv4 packet: version 4, a header of 20–60 bytes, and a total length that fits. */
export function isIPv4(b: Uint8Array, off: number, len: number): boolean {
  if (len < IPV4_HEADER_LEN) return false;
  const vihl = b[off]!;
  const ihl = (vihl & 0x0f) * 4;
  if (vihl >> 4 !== 4 || ihl < IPV4_HEADER_LEN || ihl > len) return false;
  const total = (b[off + 2]! << 8) | b[off + 3]!;
  return total >= ihl && total <= len;
}

/**
 * Decrements the TTL and patches the header checksum incrementally (RFC 1624), as Go's proxy and the
 * kernel's ip_decrease_ttl do: on a little-endian host they add htons(0x0100) to the checksum as it lies in
 * memory, plus one more when that wraps, which is one's-complement addition of 0x0100 to the big-endian
 * value with the carry folded in. Returns false when the packet must be dropped: its TTL would reach 0
 * (Go drops at 0 after decrementing; a TTL of 0 on arrival, which Go would wrap to 255, is dropped too).
 */
export function decrementTtl(b: Uint8Array, off: number): boolean {
  const ttl = b[off + 8]!;
  if (ttl <= 1) return false;
  b[off + 8] = ttl - 1;
  const stored = b[off + 10]! | (b[off + 11]! << 8);
  const sum = stored >= 0xfffe ? stored + 2 : stored + 1;
  b[off + 10] = sum & 0xff;
  b[off + 11] = (sum >> 8) & 0xff;
  return true;
}

/** The Internet checksum (RFC 1071) of `len` bytes at `off`, as stored big-endian in a header. */
export function internetChecksum(b: Uint8Array, off: number, len: number): number {
  let sum = 0;
  let i = off;
  const end = off + (len & ~1);
  for (; i < end; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
  if (len & 1) sum += b[i]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/**
 * Writes into `out` at `outOff` the ICMP Destination Unreachable / Net Unreachable (type 3, code 0) that
 * Go's proxy sends back into the TUN for a packet to no known subnet, and returns its length; 0 when none is
 * owed. As in Go: IP header with TTL 8, no ID, no DF, from `from` (flannel0's address) to the offender's
 * source; the ICMP body quotes the offender's IP header and the first 8 bytes after it. None is sent about
 * a fragment other than the first, or for a header Go calls malformed (60 bytes or more). Two differences:
 * Go never answers an ICMP packet, where this answers ICMP requests (an echo request gets its
 * net-unreachable, so `ping` says what happened) and never an ICMP error (RFC 1122 3.2.2); and none is sent
 * for a packet too short to quote (Go would quote stale buffer bytes). `out` needs NET_UNREACHABLE_MAX_LEN
 * bytes from `outOff`.
 */
export function netUnreachable(b: Uint8Array, off: number, len: number, from: number, out: Uint8Array, outOff: number): number {
  const ihl = (b[off]! & 0x0f) * 4;
  if (ihl < IPV4_HEADER_LEN || ihl >= MAX_QUOTED_HEADER || len < ihl + 8) return 0;
  if (b[off + 9] === IPPROTO_ICMP && !ICMP_QUERIES.has(b[off + ihl]!)) return 0;
  if ((((b[off + 6]! << 8) | b[off + 7]!) & 0x1fff) !== 0) return 0;
  const quoted = ihl + 8;
  const total = IPV4_HEADER_LEN + 8 + quoted;
  out.fill(0, outOff, outOff + total);
  out[outOff] = 0x45;
  out[outOff + 2] = total >> 8;
  out[outOff + 3] = total & 0xff;
  out[outOff + 8] = 8; // TTL
  out[outOff + 9] = IPPROTO_ICMP;
  out[outOff + 12] = from >>> 24;
  out[outOff + 13] = (from >>> 16) & 0xff;
  out[outOff + 14] = (from >>> 8) & 0xff;
  out[outOff + 15] = from & 0xff;
  for (let i = 0; i < 4; i++) out[outOff + 16 + i] = b[off + 12 + i]!;
  const ipSum = internetChecksum(out, outOff, IPV4_HEADER_LEN);
  out[outOff + 10] = ipSum >> 8;
  out[outOff + 11] = ipSum & 0xff;
  const icmp = outOff + IPV4_HEADER_LEN;
  out[icmp] = ICMP_DEST_UNREACH;
  out[icmp + 1] = ICMP_NET_UNREACH;
  for (let i = 0; i < quoted; i++) out[icmp + 8 + i] = b[off + i]!;
  const icmpSum = internetChecksum(out, icmp, 8 + quoted);
  out[icmp + 2] = icmpSum >> 8;
  out[icmp + 3] = icmpSum & 0xff;
  return total;
}

/** a.b.c.d as an unsigned 32-bit number. */
export function ipv4ToNumber(text: string): number {
  const parts = text.split('.').map(Number);
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

export function numberToIPv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
}

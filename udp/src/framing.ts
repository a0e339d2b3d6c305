// What the proxy does to one packet in each direction, without the I/O around it: the worker calls these
// on native memory, the unit tests on captured bytes. Go's encapsulation is no encapsulation at all: the
// UDP payload is the inner IPv4 packet, TTL decremented, so framing is deciding where a packet goes.
import { decrementTtl, ipv4Dst, ipv4Src, isIPv4, NET_UNREACHABLE_MAX_LEN, netUnreachable } from './ipv4.js';
import type { NextHop, PeerTable } from './peer-table.js';

/** outbound(): send the packet (now TTL − 1) as a datagram to `hop`. */
export const OUT_SEND = 0;
/** outbound(): to no peer's subnet; `icmpLength` bytes of ICMP net-unreachable are in `icmp` (0: none owed). */
export const OUT_NO_ROUTE = 1;
export const OUT_MALFORMED = 2;
export const OUT_TTL_EXPIRED = 3;

/** inbound(): write the packet (now TTL − 1) to flannel0. */
export const IN_WRITE = 0;
export const IN_MALFORMED = 1;
/** Not for our subnet, or from inside it. */
export const IN_FOREIGN = 2;
export const IN_TTL_EXPIRED = 3;

export class Framer {
  /** After OUT_SEND: where to. */
  hop: NextHop | undefined;
  /** After OUT_NO_ROUTE: the ICMP answer to write back into flannel0, `icmpLength` bytes (0 for none). */
  readonly icmp = Buffer.alloc(NET_UNREACHABLE_MAX_LEN);
  icmpLength = 0;

  constructor(
    private readonly table: PeerTable,
    /** flannel0's address, the source of our ICMP. */
    private readonly tunIp: number,
    /** Our subnet, as network and mask. */
    private readonly ownNet: number,
    private readonly ownMask: number,
  ) {}

  /** A packet read from flannel0 (`len` bytes at `off`): where it goes, changing its TTL in place. */
  outbound(b: Uint8Array, off: number, len: number): number {
    if (!isIPv4(b, off, len)) return OUT_MALFORMED;
    const hop = this.table.lookup(ipv4Dst(b, off));
    if (!hop) {
      this.icmpLength = netUnreachable(b, off, len, this.tunIp, this.icmp, 0);
      return OUT_NO_ROUTE;
    }
    if (!decrementTtl(b, off)) return OUT_TTL_EXPIRED;
    this.hop = hop;
    return OUT_SEND;
  }

  /**
   * A datagram's payload received on the port: whether it goes to flannel0, changing its TTL in place. Go
   * writes whatever comes; we write only packets for our own subnet and not from it: a peer sends nothing
   * else, and flannel0 accepts local source addresses (for our ICMP), so nothing may pose as one of ours.
   */
  inbound(b: Uint8Array, off: number, len: number): number {
    if (!isIPv4(b, off, len)) return IN_MALFORMED;
    if ((ipv4Dst(b, off) & this.ownMask) >>> 0 !== this.ownNet || (ipv4Src(b, off) & this.ownMask) >>> 0 === this.ownNet) return IN_FOREIGN;
    if (!decrementTtl(b, off)) return IN_TTL_EXPIRED;
    return IN_WRITE;
  }
}

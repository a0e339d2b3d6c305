import { ADDR_BITS, IP, type IPFamily } from './ip.js';

/** A network prefix. Host bits are always masked off, as Go's ParseCIDR does. */
export class IPNet {
  readonly ip: IP;
  /** The text form, made on first use (see IP's). */
  #text: string | undefined;

  constructor(
    ip: IP,
    readonly prefixLen: number,
  ) {
    if (!Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > ip.bits) {
      throw new RangeError(`prefix length /${prefixLen} is out of range for IPv${ip.family}`);
    }
    // An address without host bits (every subnet a store sends) is kept as it is, not copied.
    const masked = ip.value & maskBits(ip.family, prefixLen);
    this.ip = masked === ip.value ? ip : IP.of(ip.family, masked);
  }

  static tryParse(text: string): IPNet | undefined {
    const slash = text.indexOf('/');
    if (slash < 0) return undefined;
    const ip = IP.tryParse(text.slice(0, slash));
    const lenText = text.slice(slash + 1);
    if (!ip || !/^(0|[1-9][0-9]{0,2})$/.test(lenText)) return undefined;
    const len = Number(lenText);
    if (len > ip.bits) return undefined;
    return new IPNet(ip, len);
  }

  static parse(text: string): IPNet {
    const net = IPNet.tryParse(text);
    if (!net) throw new RangeError(`invalid CIDR: ${JSON.stringify(text)}`);
    return net;
  }

  get family(): IPFamily {
    return this.ip.family;
  }

  /** Number of addresses in the prefix. */
  get size(): bigint {
    return 1n << BigInt(this.ip.bits - this.prefixLen);
  }

  get mask(): bigint {
    return maskBits(this.family, this.prefixLen);
  }

  /** The first address after this prefix (may overflow the family; callers compare, not construct). */
  get end(): bigint {
    return this.ip.value + this.size;
  }

  contains(ip: IP): boolean {
    return ip.family === this.family && (ip.value & this.mask) === this.ip.value;
  }

  /** Whether the two prefixes share any address. */
  overlaps(other: IPNet): boolean {
    if (other.family !== this.family) return false;
    return this.ip.value < other.end && other.ip.value < this.end;
  }

  /** The next prefix of the same length. */
  next(): IPNet {
    return new IPNet(this.ip.add(this.size), this.prefixLen);
  }

  equals(other: IPNet | undefined): boolean {
    return other !== undefined && this.prefixLen === other.prefixLen && this.ip.equals(other.ip);
  }

  toString(): string {
    return (this.#text ??= `${this.ip.toString()}/${this.prefixLen}`);
  }

  toJSON(): string {
    return this.toString();
  }
}

export function maskBits(family: IPFamily, prefixLen: number): bigint {
  if (family === 4) return V4_MASKS[prefixLen]!;
  const bits = ADDR_BITS[family];
  const all = (1n << BigInt(bits)) - 1n;
  return (all << BigInt(bits - prefixLen)) & all;
}

/** The 33 IPv4 masks, made once: every subnet a store sends is masked. */
const V4_MASKS = Array.from({ length: 33 }, (_, len) => ((1n << 32n) - 1n) ^ ((1n << BigInt(32 - len)) - 1n));

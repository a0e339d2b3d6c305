/** Two lower-case hex digits for each byte value. */
const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

/**
 * A 6-byte Ethernet address, printed lower-case with colons as iproute2 and Go do. Held as one number
 * (48 bits fit a double exactly): a node keeps three per peer, and a Uint8Array each cost ~180 bytes of
 * heap and a GC object pair where a number costs none.
 */
export class MAC {
  /** The text form, made on first use (see IP's). */
  #text: string | undefined;

  private constructor(private readonly value: number) {}

  /**
   * `aa:bb:cc:dd:ee:ff` or with dashes (one kind throughout). A character scanner: every peer's lease is
   * read through here, and a regex's match array and six substrings were ~250 bytes of garbage each.
   */
  static tryParse(text: string): MAC | undefined {
    if (text.length !== 17) return undefined;
    const sep = text.charCodeAt(2);
    if (sep !== COLON && sep !== DASH) return undefined;
    let v = 0;
    for (let i = 0; i < 17; i += 3) {
      if (i > 0 && text.charCodeAt(i - 1) !== sep) return undefined;
      const hi = hexValue(text.charCodeAt(i));
      const lo = hexValue(text.charCodeAt(i + 1));
      if (hi < 0 || lo < 0) return undefined;
      v = v * 256 + hi * 16 + lo;
    }
    return new MAC(v);
  }

  static parse(text: string): MAC {
    const mac = MAC.tryParse(text);
    if (!mac) throw new RangeError(`invalid MAC address: ${JSON.stringify(text)}`);
    return mac;
  }

  static fromBytes(bytes: Uint8Array): MAC {
    if (bytes.length !== 6) throw new RangeError(`a MAC address has 6 bytes, got ${bytes.length}`);
    let v = 0;
    for (const b of bytes) v = v * 256 + b;
    return new MAC(v);
  }

  /** A random locally administered unicast address (first byte: bit 0 clear, bit 1 set), as flannel makes VTEP MACs. */
  static randomLocal(random: (n: number) => Uint8Array): MAC {
    const b = Uint8Array.from(random(6));
    b[0] = (b[0]! & 0xfe) | 0x02;
    return MAC.fromBytes(b);
  }

  /** The six bytes, most significant first (a new array each time). */
  get bytes(): Uint8Array {
    const [hi, lo] = this.halves();
    return Uint8Array.of(hi >>> 8, hi & 255, lo >>> 24, (lo >>> 16) & 255, (lo >>> 8) & 255, lo & 255);
  }

  /** Writes the six bytes at `offset`, as `bytes` holds them, without making an array. */
  writeTo(buf: Uint8Array, offset: number): void {
    const hi = Math.floor(this.value / 2 ** 32);
    const lo = this.value >>> 0;
    buf[offset] = hi >>> 8;
    buf[offset + 1] = hi & 255;
    buf[offset + 2] = lo >>> 24;
    buf[offset + 3] = (lo >>> 16) & 255;
    buf[offset + 4] = (lo >>> 8) & 255;
    buf[offset + 5] = lo & 255;
  }

  /** Neither a group address (the first byte's low bit: multicast, broadcast) nor all zeros. */
  isUnicast(): boolean {
    return this.value !== 0 && (Math.floor(this.value / 2 ** 40) & 1) === 0;
  }

  equals(other: MAC | undefined): boolean {
    if (other === undefined) return false;
    // A MAC from another copy of core (a plugin's own) is compared by its text.
    return other instanceof MAC ? other.value === this.value : String(other) === this.toString();
  }

  toString(): string {
    if (this.#text !== undefined) return this.#text;
    const hi = Math.floor(this.value / 2 ** 32);
    const lo = this.value >>> 0;
    return (this.#text = `${HEX[hi >>> 8]}:${HEX[hi & 255]}:${HEX[lo >>> 24]}:${HEX[(lo >>> 16) & 255]}:${HEX[(lo >>> 8) & 255]}:${HEX[lo & 255]}`);
  }

  /** The top 16 and the low 32 bits, as integers the bit operators take. */
  private halves(): [number, number] {
    return [Math.floor(this.value / 2 ** 32), this.value >>> 0];
  }

  toJSON(): string {
    return this.toString();
  }
}

const COLON = 0x3a;
const DASH = 0x2d;

/** A hex digit's value, or -1. */
function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  const lower = code | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

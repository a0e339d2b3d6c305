/**
 * IPv4 and IPv6 addresses as one value type. The address is kept as a bigint so that
 * subnet arithmetic (next subnet, containment, overlap) is the same code for both families.
 */
export type IPFamily = 4 | 6;

export const ADDR_BITS: Record<IPFamily, number> = { 4: 32, 6: 128 };

export class IP {
  /**
   * The text form, made on first use: a peer's addresses are printed into several keys and log fields, and
   * a start that made each anew allocated ~20 MB of strings at 5,000 peers. A private field, so that
   * structural comparisons of two equal addresses do not see whether one was printed.
   */
  #text: string | undefined;

  private constructor(
    readonly family: IPFamily,
    readonly value: bigint,
  ) {}

  static v4(value: bigint | number): IP {
    if (typeof value === 'number') {
      if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new RangeError(`IPv4 value out of range: ${value}`);
      return new IP(4, BigInt(value));
    }
    if (value < 0n || value > 0xffffffffn) throw new RangeError(`IPv4 value out of range: ${value}`);
    return new IP(4, value);
  }

  static v6(value: bigint): IP {
    if (value < 0n || value >> 128n !== 0n) throw new RangeError(`IPv6 value out of range: ${value}`);
    return new IP(6, value);
  }

  static of(family: IPFamily, value: bigint): IP {
    return family === 4 ? IP.v4(value) : IP.v6(value);
  }

  /** Parses dotted IPv4 or textual IPv6; returns undefined for anything else. */
  static tryParse(text: string): IP | undefined {
    if (text.includes(':')) {
      const v = parseV6(text);
      return v === undefined ? undefined : new IP(6, v);
    }
    const v = parseV4(text);
    return v === undefined ? undefined : new IP(4, v);
  }

  static parse(text: string): IP {
    const ip = IP.tryParse(text);
    if (!ip) throw new RangeError(`invalid IP address: ${JSON.stringify(text)}`);
    return ip;
  }

  static fromBytes(bytes: Uint8Array): IP {
    if (bytes.length !== 4 && bytes.length !== 16) throw new RangeError(`an IP address has 4 or 16 bytes, got ${bytes.length}`);
    // Every address of a kernel dump comes through here: whole 32-bit words, one bigint step per word
    // (a fifth of the time of one per byte, once optimised).
    let v = 0n;
    for (let i = 0; i < bytes.length; i += 4) {
      v = (v << 32n) | BigInt(((bytes[i]! << 24) | (bytes[i + 1]! << 16) | (bytes[i + 2]! << 8) | bytes[i + 3]!) >>> 0);
    }
    return new IP(bytes.length === 4 ? 4 : 6, v);
  }

  get bits(): number {
    return ADDR_BITS[this.family];
  }

  toBytes(): Uint8Array {
    if (this.family === 4) {
      const v = Number(this.value);
      return Uint8Array.of(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
    }
    const n = this.bits / 8;
    const out = new Uint8Array(n);
    let v = this.value;
    for (let i = n - 1; i >= 0; i--) {
      out[i] = Number(v & 0xffn);
      v >>= 8n;
    }
    return out;
  }

  add(delta: bigint | number): IP {
    return IP.of(this.family, this.value + BigInt(delta));
  }

  equals(other: IP | undefined): boolean {
    return other !== undefined && other.family === this.family && other.value === this.value;
  }

  compare(other: IP): number {
    if (this.family !== other.family) return this.family - other.family;
    return this.value < other.value ? -1 : this.value > other.value ? 1 : 0;
  }

  isUnspecified(): boolean {
    return this.value === 0n;
  }

  toString(): string {
    return (this.#text ??= this.family === 4 ? formatV4(this.value) : formatV6(this.value));
  }

  toJSON(): string {
    return this.toString();
  }
}

/**
 * Dotted-quad IPv4, scanned without splitting or a regular expression: every lease and key a store sends
 * holds addresses, and a start parses thousands. Four decimal parts of 1-3 digits, each at most 255 and
 * without leading zeros (Go rejects them as ambiguous octal; so do we).
 */
function parseV4(text: string): bigint | undefined {
  let v = 0;
  let part = 0;
  let digits = 0;
  let parts = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : DOT;
    if (c === DOT) {
      if (digits === 0 || part > 255) return undefined;
      v = v * 256 + part;
      parts++;
      part = 0;
      digits = 0;
      continue;
    }
    if (c < ZERO || c > NINE || digits === 3 || (digits === 1 && part === 0)) return undefined;
    part = part * 10 + (c - ZERO);
    digits++;
  }
  return parts === 4 ? BigInt(v) : undefined;
}

const DOT = 46;
const ZERO = 48;
const NINE = 57;

function parseV6(text: string): bigint | undefined {
  if (text.includes('%')) return undefined; // zones are not addresses we store
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const parseGroups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    const items = s.split(':');
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      if (i === items.length - 1 && item.includes('.')) {
        const v4 = parseV4(item);
        if (v4 === undefined) return undefined;
        out.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(item)) return undefined;
        out.push(parseInt(item, 16));
      }
    }
    return out;
  };
  const head = parseGroups(halves[0]!);
  const tail = halves.length === 2 ? parseGroups(halves[1]!) : [];
  if (!head || !tail) return undefined;
  let groups: number[];
  if (halves.length === 2) {
    const missing = 8 - head.length - tail.length;
    if (missing < 1) return undefined;
    groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  } else {
    groups = head;
  }
  if (groups.length !== 8) return undefined;
  let v = 0n;
  for (const g of groups) v = (v << 16n) | BigInt(g);
  return v;
}

function formatV4(v: bigint): string {
  // One bigint step, then numbers: a node prints several addresses per peer (entry keys, logs).
  const n = Number(v);
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** RFC 5952 form, as Go prints it: lower-case, longest zero run (of 2+ groups) compressed, leftmost on a tie. */
function formatV6(v: bigint): string {
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((v >> BigInt(i * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(':');
  if (bestLen < 2) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}

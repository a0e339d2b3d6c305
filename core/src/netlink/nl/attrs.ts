import { IP } from '../../ip/ip.js';
import type { MAC } from '../../ip/mac.js';

/**
 * Netlink attributes (struct nlattr: u16 len, u16 type, payload padded to 4 bytes), built into a
 * growing buffer and read back through an index (Attrs). Nested attributes are written with `nest`.
 */
export const NLA_F_NESTED = 0x8000;
const NLA_TYPE_MASK = 0x3fff;

export const align4 = (n: number) => (n + 3) & ~3;

export class MessageWriter {
  private buf: Buffer;
  private len = 0;

  constructor(initial = 256) {
    this.buf = Buffer.alloc(initial);
  }

  get length(): number {
    return this.len;
  }

  /** Reserves `n` zeroed bytes and returns their offset. */
  reserve(n: number): number {
    const off = this.len;
    const need = off + align4(n);
    if (need > this.buf.length) {
      const grown = Buffer.alloc(Math.max(need, this.buf.length * 2));
      this.buf.copy(grown, 0, 0, this.len);
      this.buf = grown;
    }
    this.buf.fill(0, off, need);
    this.len = need;
    return off;
  }

  /** Direct access for fixed headers; valid until the next reserve. */
  view(): Buffer {
    return this.buf;
  }

  bytes(type: number, data: Uint8Array): this {
    const off = this.attr(type, data.length);
    this.buf.set(data, off);
    return this;
  }

  /** An address in network order; IPv4 without an intermediate array (a peer's entries hold several). */
  ip(type: number, ip: IP): this {
    if (ip.family !== 4) return this.bytes(type, ip.toBytes());
    const off = this.attr(type, 4);
    this.buf.writeUInt32BE(Number(ip.value), off);
    return this;
  }

  mac(type: number, mac: MAC): this {
    // A plugin that bundles an older core hands us MACs without writeTo; every version has `bytes`.
    if (typeof mac.writeTo !== 'function') return this.bytes(type, mac.bytes);
    const off = this.attr(type, 6);
    mac.writeTo(this.buf, off);
    return this;
  }

  u8(type: number, v: number): this {
    const off = this.attr(type, 1);
    this.buf.writeUInt8(v, off);
    return this;
  }

  u16(type: number, v: number): this {
    const off = this.attr(type, 2);
    this.buf.writeUInt16LE(v, off);
    return this;
  }

  /** Big-endian u16, for ports (IFLA_VXLAN_PORT). */
  be16(type: number, v: number): this {
    const off = this.attr(type, 2);
    this.buf.writeUInt16BE(v, off);
    return this;
  }

  u32(type: number, v: number): this {
    const off = this.attr(type, 4);
    this.buf.writeUInt32LE(v >>> 0, off);
    return this;
  }

  /**
   * Writes an attribute header for `len` payload bytes and returns the payload offset. It may replace
   * this.buf, so callers take the offset first and read this.buf after.
   */
  private attr(type: number, len: number): number {
    const off = this.reserve(4 + len);
    this.buf.writeUInt16LE(4 + len, off);
    this.buf.writeUInt16LE(type, off + 2);
    return off + 4;
  }

  /** A NUL-terminated string. */
  str(type: number, s: string): this {
    return this.bytes(type, Buffer.from(`${s}\0`, 'utf8'));
  }

  nest(type: number, body: (w: this) => void): this {
    const off = this.reserve(4);
    this.buf.writeUInt16LE(type | NLA_F_NESTED, off + 2);
    body(this);
    this.buf.writeUInt16LE(this.len - off, off);
    return this;
  }

  /** The bytes written so far (a copy). */
  toBuffer(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.len));
  }
}

/**
 * Attributes of one level, by type; a repeated type keeps the last. Read from the message in place: a
 * dump decodes thousands of messages, and a Map plus a Buffer view per attribute was most of what
 * reading 20,000 kernel objects allocated. `get` makes the view when it is asked for; `u32` and `ip`
 * read without one.
 */
export class Attrs {
  /** type, payload offset, payload length: three numbers per attribute, in message order. */
  private readonly index: number[] = [];

  constructor(
    private readonly buf: Buffer,
    start: number,
    end: number,
  ) {
    let off = start;
    while (off + 4 <= end) {
      const len = buf.readUInt16LE(off);
      if (len < 4 || off + len > end) break;
      this.index.push(buf.readUInt16LE(off + 2) & NLA_TYPE_MASK, off + 4, len - 4);
      off += align4(len);
    }
  }

  get size(): number {
    return this.index.length / 3;
  }

  has(type: number): boolean {
    return this.find(type) >= 0;
  }

  get(type: number): Buffer | undefined {
    const i = this.find(type);
    return i < 0 ? undefined : this.buf.subarray(this.index[i + 1]!, this.index[i + 1]! + this.index[i + 2]!);
  }

  /** The payload length of the attribute of this type, if there is one. */
  length(type: number): number | undefined {
    const i = this.find(type);
    return i < 0 ? undefined : this.index[i + 2];
  }

  /** A u32 payload (host order), as attrU32 reads it. */
  u32(type: number): number | undefined {
    const i = this.find(type);
    return i < 0 || this.index[i + 2]! < 4 ? undefined : this.buf.readUInt32LE(this.index[i + 1]!);
  }

  /** An address payload (4 or 16 bytes), as IP.fromBytes reads it; IPv4 without a view. */
  ip(type: number): IP | undefined {
    const i = this.find(type);
    if (i < 0) return undefined;
    const off = this.index[i + 1]!;
    return this.index[i + 2] === 4 ? IP.v4(this.buf.readUInt32BE(off)) : IP.fromBytes(this.buf.subarray(off, off + this.index[i + 2]!));
  }

  /** The types present, in message order (a repeated type once per occurrence). */
  types(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.index.length; i += 3) out.push(this.index[i]!);
    return out;
  }

  /** The index of the last attribute of this type in `index`, or -1. */
  private find(type: number): number {
    for (let i = this.index.length - 3; i >= 0; i -= 3) if (this.index[i] === type) return i;
    return -1;
  }
}

export function parseAttrs(buf: Buffer, start = 0, end = buf.length): Attrs {
  return new Attrs(buf, start, end);
}

export const attrStr = (a: Buffer | undefined) => (a === undefined ? undefined : a.toString('utf8', 0, a.indexOf(0) >= 0 ? a.indexOf(0) : a.length));
export const attrU8 = (a: Buffer | undefined) => (a === undefined || a.length < 1 ? undefined : a.readUInt8(0));
export const attrU32 = (a: Buffer | undefined) => (a === undefined || a.length < 4 ? undefined : a.readUInt32LE(0));
export const attrBe16 = (a: Buffer | undefined) => (a === undefined || a.length < 2 ? undefined : a.readUInt16BE(0));

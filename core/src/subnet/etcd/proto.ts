/**
 * Just enough protobuf (proto3 wire format) for the etcd v3 messages flannel uses: varints, 64-bit
 * integers, length-delimited bytes and strings, nested messages. No schema, no reflection: each message's
 * encoder and decoder is written out by hand in messages.ts.
 */

const enum Wire {
  Varint = 0,
  Fixed64 = 1,
  Bytes = 2,
  Fixed32 = 5,
}

const TWO_32 = 2 ** 32;

/** Appends fields to a growing buffer. Zero and empty values are left out, as proto3 does. */
export class ProtoWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(size = 64) {
    this.buf = Buffer.allocUnsafe(size);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** An unsigned varint; negative numbers are written as 64-bit two's complement (10 bytes), as int64 is. */
  varint(v: number | bigint): void {
    if (typeof v === 'number' && v >= 0 && v < TWO_32) {
      this.ensure(5);
      while (v > 0x7f) {
        this.buf[this.pos++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      this.buf[this.pos++] = v;
      return;
    }
    let b = BigInt.asUintN(64, BigInt(v));
    this.ensure(10);
    while (b > 0x7fn) {
      this.buf[this.pos++] = Number(b & 0x7fn) | 0x80;
      b >>= 7n;
    }
    this.buf[this.pos++] = Number(b);
  }

  private tag(field: number, wire: Wire): void {
    this.varint((field << 3) | wire);
  }

  /** int64, uint64, enums: left out when zero. */
  int(field: number, v: number | bigint | undefined): void {
    if (v === undefined || v === 0 || v === 0n) return;
    this.tag(field, Wire.Varint);
    this.varint(v);
  }

  /** An int64 written even when zero (a oneof member, where presence matters). */
  intAlways(field: number, v: number | bigint): void {
    this.tag(field, Wire.Varint);
    this.varint(v);
  }

  bool(field: number, v: boolean | undefined): void {
    if (!v) return;
    this.tag(field, Wire.Varint);
    this.varint(1);
  }

  /** bytes or string (UTF-8): left out when empty unless `always` (a oneof member). */
  bytes(field: number, v: string | Uint8Array | undefined, always = false): void {
    if (v === undefined) return;
    const len = typeof v === 'string' ? Buffer.byteLength(v) : v.length;
    if (len === 0 && !always) return;
    this.tag(field, Wire.Bytes);
    this.varint(len);
    this.ensure(len);
    if (typeof v === 'string') this.buf.write(v, this.pos, 'utf8');
    else this.buf.set(v, this.pos);
    this.pos += len;
  }

  /** A nested message, written even when empty (its presence can matter, as in a oneof). */
  message(field: number, encode: (w: ProtoWriter) => void): void {
    const sub = new ProtoWriter();
    encode(sub);
    this.bytes(field, sub.finish(), true);
  }

  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

/** Reads fields of one message from `buf[pos, end)`. */
export class ProtoReader {
  pos: number;

  constructor(
    readonly buf: Buffer,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
  }

  /** The next field's tag, or -1 at the end of the message. */
  next(): number {
    if (this.pos >= this.end) return -1;
    return this.varint();
  }

  /** A varint as a number: exact up to 2^53, which every revision, version and TTL is; negative int64 values (TTL -1) exact too. */
  varint(): number {
    const buf = this.buf;
    const start = this.pos;
    if (start >= this.end) throw new ProtoError('truncated varint');
    let b = buf[this.pos++]!;
    if (b < 0x80) return b;
    let v = b & 0x7f;
    let scale = 0x80;
    for (let i = 1; i < 8; i++) {
      if (this.pos >= this.end) throw new ProtoError('truncated varint');
      b = buf[this.pos++]!;
      v += (b & 0x7f) * scale;
      if (b < 0x80) return v;
      scale *= 0x80;
    }
    // Past 56 bits: exact arithmetic, read as a signed int64.
    this.pos = start;
    return Number(BigInt.asIntN(64, this.varint64()));
  }

  /**
   * A varint as an unsigned 64-bit bigint (lease IDs, cluster and member IDs). Gathered in two numbers
   * (bits 0-27, and 28 up: at most 2^43, exact), joined as bigints once: every stored lease carries a lease ID,
   * and three bigint operations per byte made ~900 bytes of garbage each.
   */
  varint64(): bigint {
    let lo = 0;
    let hi = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new ProtoError('truncated varint');
      const b = this.buf[this.pos++]!;
      if (i === 4) scale = 1;
      if (i < 4) lo += (b & 0x7f) * scale;
      else hi += (b & 0x7f) * scale;
      scale *= 128;
      if (b < 0x80) return hi === 0 ? BigInt(lo) : BigInt.asUintN(64, BigInt(hi) * 268435456n + BigInt(lo));
    }
    throw new ProtoError('varint longer than 10 bytes');
  }

  bool(): boolean {
    return this.varint() !== 0;
  }

  /** A length-delimited field: its start and end in `buf`, and the reader moved past it. */
  span(): [number, number] {
    const len = this.varint();
    const start = this.pos;
    const end = start + len;
    if (len < 0 || end > this.end) throw new ProtoError('length-delimited field runs past the end of its message');
    this.pos = end;
    return [start, end];
  }

  string(): string {
    const [start, end] = this.span();
    return this.buf.toString('utf8', start, end);
  }

  /** A nested message's reader. */
  message(): ProtoReader {
    const [start, end] = this.span();
    return new ProtoReader(this.buf, start, end);
  }

  /** Skips a field this decoder does not know (newer etcd versions add fields). */
  skip(tag: number): void {
    switch ((tag & 7) as Wire) {
      case Wire.Varint:
        this.varint();
        return;
      case Wire.Fixed64:
        this.pos += 8;
        break;
      case Wire.Bytes:
        this.span();
        return;
      case Wire.Fixed32:
        this.pos += 4;
        break;
      default:
        throw new ProtoError(`unsupported wire type ${tag & 7}`);
    }
    if (this.pos > this.end) throw new ProtoError('fixed-width field runs past the end of its message');
  }
}

export class ProtoError extends Error {
  override readonly name = 'ProtoError';
  constructor(message: string) {
    super(`malformed protobuf from etcd: ${message}`);
  }
}

// VICI packets inside transport segments, and the framing of a byte stream into segments.
import { MalformedVici, UnencodableVici } from './errors.js';
import { MAX_NAME, MAX_SEGMENT, NAMED_PACKET_TYPES, PACKET_TYPE_NAMES, type PacketType } from './protocol.js';

export interface Packet {
  type: PacketType;
  /** The command or event name, for the named types. */
  name?: string;
  /** The raw message (empty when the packet has none). */
  message: Buffer;
}

/** One transport segment: length header, type, the name for the named types, the message. */
export function encodePacket(type: PacketType, name: string | undefined, message: Buffer = Buffer.alloc(0)): Buffer {
  const named = NAMED_PACKET_TYPES.has(type);
  if (named !== (name !== undefined)) throw new UnencodableVici(`packet type ${PACKET_TYPE_NAMES[type]} ${named ? 'needs' : 'takes no'} name`);
  const nameBytes = name === undefined ? Buffer.alloc(0) : Buffer.from(name, 'utf8');
  if (nameBytes.length > MAX_NAME)
    throw new UnencodableVici(`the name "${name!.slice(0, 40)}…" is ${nameBytes.length} bytes long; vici names hold at most ${MAX_NAME}`);
  const length = 1 + (named ? 1 + nameBytes.length : 0) + message.length;
  if (length > MAX_SEGMENT) throw new UnencodableVici(`the message is ${length} bytes long; charon accepts at most ${MAX_SEGMENT} per packet`);
  const head = Buffer.alloc(named ? 6 : 5);
  head.writeUInt32BE(length, 0);
  head[4] = type;
  if (named) head[5] = nameBytes.length;
  return Buffer.concat([head, nameBytes, message]);
}

/** Splits one segment (without its length header) into type, name and message. */
export function decodePacket(segment: Buffer): Packet {
  if (segment.length === 0) throw new MalformedVici('an empty packet (no type byte)');
  const type = segment[0]!;
  if (PACKET_TYPE_NAMES[type] === undefined) throw new MalformedVici(`unknown packet type ${type}`);
  if (!NAMED_PACKET_TYPES.has(type)) return { type: type as PacketType, message: segment.subarray(1) };
  if (segment.length < 2) throw new MalformedVici(`a ${PACKET_TYPE_NAMES[type]} packet without its name length`);
  const len = segment[1]!;
  if (2 + len > segment.length) throw new MalformedVici(`a ${PACKET_TYPE_NAMES[type]} packet whose ${len}-byte name runs past its end`);
  return { type: type as PacketType, name: segment.toString('utf8', 2, 2 + len), message: segment.subarray(2 + len) };
}

/**
 * Reassembles segments from a stream: a read may hold part of one, or several. Throws MalformedVici for a
 * length header of 0 or above charon's 512 KiB cap, before waiting for (or buffering) that many bytes.
 */
export class SegmentReader {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  /** Adds `chunk` and returns every segment now complete, in order (without their length headers). */
  push(chunk: Buffer): Buffer[] {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    const out: Buffer[] = [];
    while (this.pendingBytes >= 4) {
      if (this.pending[0]!.length < 4) this.pending = [Buffer.concat(this.pending)];
      const length = this.pending[0]!.readUInt32BE(0);
      if (length === 0 || length > MAX_SEGMENT) {
        throw new MalformedVici(`a segment length of ${length} bytes (a packet is 1 to ${MAX_SEGMENT} bytes long)`);
      }
      // Joined only once the whole segment is here: a big one arriving in many reads is copied once.
      if (this.pendingBytes < 4 + length) break;
      const buf = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
      // A copy, so that a long-lived value never pins the whole read buffer.
      out.push(Buffer.from(buf.subarray(4, 4 + length)));
      const rest = buf.subarray(4 + length);
      this.pending = rest.length > 0 ? [rest] : [];
      this.pendingBytes = rest.length;
    }
    return out;
  }

  /** Bytes received that do not form a whole segment yet. */
  get buffered(): number {
    return this.pendingBytes;
  }
}

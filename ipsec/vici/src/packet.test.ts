import { MalformedVici, UnencodableVici } from './errors.js';
import { encodeMessage } from './message.js';
import { decodePacket, encodePacket, SegmentReader } from './packet.js';
import { PacketType } from './protocol.js';
import { bytes, segment } from './scripted-charon.test-util.js';

describe('encodePacket', () => {
  it('frames a named request: length, type 0, name length, name, message', () => {
    expect(encodePacket(PacketType.CMD_REQUEST, 'version')).toEqual(bytes(0, 0, 0, 9, 0, 7, 'version'));
    expect(encodePacket(PacketType.CMD_REQUEST, 'unload-conn', encodeMessage({ name: 'c' }))).toEqual(
      bytes(0, 0, 0, 22, 0, 11, 'unload-conn', 3, 4, 'name', 0, 1, 'c'),
    );
    expect(encodePacket(PacketType.EVENT_REGISTER, 'list-sa')).toEqual(bytes(0, 0, 0, 9, 3, 7, 'list-sa'));
    expect(encodePacket(PacketType.EVENT_UNREGISTER, 'list-sa')).toEqual(bytes(0, 0, 0, 9, 4, 7, 'list-sa'));
  });

  it('frames unnamed types without a name, and refuses a name where none belongs or a missing one', () => {
    expect(encodePacket(PacketType.CMD_RESPONSE, undefined)).toEqual(bytes(0, 0, 0, 1, 1));
    expect(() => encodePacket(PacketType.CMD_RESPONSE, 'x')).toThrow('packet type CMD_RESPONSE takes no name');
    expect(() => encodePacket(PacketType.CMD_REQUEST, undefined)).toThrow('packet type CMD_REQUEST needs name');
  });

  it("refuses a packet over charon's 512 KiB limit", () => {
    const big = encodeMessage(Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`k${i}`, 'v'.repeat(60_000)])));
    expect(() => encodePacket(PacketType.CMD_REQUEST, 'load-conn', big)).toThrow(UnencodableVici);
    expect(() => encodePacket(PacketType.CMD_REQUEST, 'load-conn', big)).toThrow(/is 540\d{3} bytes long; charon accepts at most 524288 per packet/);
  });
});

describe('decodePacket', () => {
  it('splits named and unnamed packets', () => {
    expect(decodePacket(bytes(7, 7, 'list-sa', 3, 1, 'k', 0, 0))).toEqual({ type: PacketType.EVENT, name: 'list-sa', message: bytes(3, 1, 'k', 0, 0) });
    expect(decodePacket(bytes(1, 3, 1, 'k', 0, 0))).toEqual({ type: PacketType.CMD_RESPONSE, message: bytes(3, 1, 'k', 0, 0) });
    expect(decodePacket(bytes(5))).toEqual({ type: PacketType.EVENT_CONFIRM, message: Buffer.alloc(0) });
  });

  it.each([
    ['an empty packet', bytes(), 'an empty packet (no type byte)'],
    ['an unknown type', bytes(8), 'unknown packet type 8'],
    ['a named type without its name length', bytes(7), 'a EVENT packet without its name length'],
    ['a name past the end', bytes(7, 5, 'ab'), 'a EVENT packet whose 5-byte name runs past its end'],
  ])('refuses %s', (_, buf, message) => {
    expect(() => decodePacket(buf)).toThrow(MalformedVici);
    expect(() => decodePacket(buf)).toThrow(message);
  });
});

describe('SegmentReader', () => {
  const one = segment(1, 3, 1, 'a', 0, 1, 'b');
  const two = segment(7, 2, 'ev', 3, 1, 'c', 0, 1, 'd');

  it('returns a segment only when all of it is there, whatever the reads', () => {
    const r = new SegmentReader();
    const all = Buffer.concat([one, two]);
    const out: Buffer[] = [];
    for (const byte of all) out.push(...r.push(Buffer.of(byte)));
    expect(out).toEqual([one.subarray(4), two.subarray(4)]);
    expect(r.buffered).toBe(0);
  });

  it('returns several segments from one read, keeping the start of the next', () => {
    const r = new SegmentReader();
    expect(r.push(Buffer.concat([one, two, two.subarray(0, 6)]))).toEqual([one.subarray(4), two.subarray(4)]);
    expect(r.buffered).toBe(6);
    expect(r.push(two.subarray(6))).toEqual([two.subarray(4)]);
  });

  it('refuses a zero length or one over 512 KiB as soon as the header is in, without waiting for the body', () => {
    expect(() => new SegmentReader().push(bytes(0, 0, 0, 0))).toThrow('a segment length of 0 bytes (a packet is 1 to 524288 bytes long)');
    const r = new SegmentReader();
    expect(r.push(bytes(0, 8))).toEqual([]);
    expect(() => r.push(bytes(0, 1, 7))).toThrow('a segment length of 524289 bytes');
  });
});

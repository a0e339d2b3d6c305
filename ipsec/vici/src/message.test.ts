import { MalformedVici, UnencodableVici } from './errors.js';
import { decodeMessage, encodeMessage, type ViciSection } from './message.js';
import { bytes } from './scripted-charon.test-util.js';

// The README's encoding example, byte for byte.
const README_EXAMPLE = bytes(
  ...[3, 4, 'key1', 0, 6, 'value1'],
  ...[1, 8, 'section1'],
  ...[1, 11, 'sub-section'],
  ...[3, 4, 'key2', 0, 6, 'value2'],
  2,
  ...[4, 5, 'list1'],
  ...[5, 0, 5, 'item1'],
  ...[5, 0, 5, 'item2'],
  6,
  2,
);
const README_TREE: ViciSection = { key1: 'value1', section1: { 'sub-section': { key2: 'value2' }, list1: ['item1', 'item2'] } };

describe('encodeMessage', () => {
  it("encodes the README's example tree to the README's bytes", () => {
    expect(encodeMessage(README_TREE)).toEqual(README_EXAMPLE);
  });

  it('encodes an empty message as no bytes, an empty list and an empty section as their markers', () => {
    expect(encodeMessage({})).toEqual(Buffer.alloc(0));
    expect(encodeMessage({ l: [], s: {} })).toEqual(bytes(4, 1, 'l', 6, 1, 1, 's', 2));
  });

  it('sends Buffers as they are and strings as UTF-8, with 16-bit big-endian value lengths', () => {
    const long = 'x'.repeat(300);
    expect(encodeMessage({ b: Buffer.of(0, 255), u: 'é', l: long })).toEqual(
      bytes(3, 1, 'b', 0, 2, 0, 255, 3, 1, 'u', 0, 2, 0xc3, 0xa9, 3, 1, 'l', 1, 44, long),
    );
  });

  it('leaves out keys whose value is undefined', () => {
    expect(encodeMessage({ a: 'x', b: undefined } as unknown as ViciSection)).toEqual(bytes(3, 1, 'a', 0, 1, 'x'));
  });

  it('refuses what the format cannot hold, naming the key and never the value', () => {
    const secret = 's3cret-'.repeat(10_000);
    const tooLong = (() => {
      try {
        encodeMessage({ conn: { data: secret } });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(tooLong).toBeInstanceOf(UnencodableVici);
    expect(tooLong!.message).toBe('the value of "conn.data" is 70000 bytes long; vici values hold at most 65535');
    expect(() => encodeMessage({ ['k'.repeat(256)]: 'v' })).toThrow(/is 256 bytes long; vici names hold at most 255/);
    expect(() => encodeMessage({ l: ['a', { x: 'y' }] } as unknown as ViciSection)).toThrow('"l[1]" is a section: vici lists hold only strings and Buffers');
    expect(() => encodeMessage({ l: [['nested']] } as unknown as ViciSection)).toThrow('"l[0]" is a list: vici lists hold only strings and Buffers');
    expect(() => encodeMessage({ s: { port: 500 } } as unknown as ViciSection)).toThrow(
      '"s.port" is a number: a vici value is a string, a Buffer, a list or a section',
    );
    expect(() => encodeMessage({ d: new Date(0) } as unknown as ViciSection)).toThrow('"d" is a Date');
  });
});

describe('decodeMessage', () => {
  it("decodes the README's example bytes to the README's tree", () => {
    expect(decodeMessage(README_EXAMPLE)).toEqual(README_TREE);
  });

  it('gives strings for UTF-8 values and Buffers (copies) for the rest', () => {
    const buf = bytes(3, 1, 'u', 0, 2, 0xc3, 0xa9, 4, 1, 'l', 5, 0, 2, 0xff, 0xfe, 6);
    const out = decodeMessage(buf);
    expect(out).toEqual({ u: 'é', l: [Buffer.of(0xff, 0xfe)] });
    buf.fill(0);
    expect((out.l as Buffer[])[0]).toEqual(Buffer.of(0xff, 0xfe));
  });

  it('keeps a key named __proto__ as a key, not as the prototype', () => {
    const out = decodeMessage(bytes(1, 9, '__proto__', 3, 1, 'a', 0, 1, 'b', 2));
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.keys(out)).toEqual(['__proto__']);
    expect(Object.getOwnPropertyDescriptor(out, '__proto__')!.value).toEqual({ a: 'b' });
  });

  it.each([
    ['a truncated name', bytes(3, 9, 'key'), 'at byte 1 of 5: a name of 9 bytes runs past the end'],
    ['a missing name length', bytes(1), 'at byte 1 of 1: a name length is missing'],
    ['a truncated value', bytes(3, 1, 'k', 0, 9, 'abc'), 'at byte 3 of 8: a value of 9 bytes runs past the end'],
    ['a missing value length', bytes(3, 1, 'k', 0), 'at byte 3 of 4: a value length is missing'],
    ['an unknown element type', bytes(3, 1, 'k', 0, 0, 9), 'at byte 5 of 6: unknown element type 9'],
    ['a section end at the root', bytes(2), 'at byte 0 of 1: a section end with no section open'],
    ['an unclosed section', bytes(1, 1, 's', 1, 1, 't', 2), 'at byte 7 of 7: 1 section(s) not closed'],
    ['an unclosed list', bytes(4, 1, 'l', 5, 0, 0), 'at byte 6 of 6: the list "l" is not closed'],
    ['a key-value in a list', bytes(4, 1, 'l', 3, 1, 'k', 0, 0, 6), 'at byte 3 of 9: element type 3 inside the list "l"'],
    ['a list in a list', bytes(4, 1, 'l', 4, 1, 'm', 6, 6), 'at byte 3 of 8: element type 4 inside the list "l"'],
    ['a list item outside a list', bytes(5, 0, 0), 'at byte 0 of 3: a list item outside a list'],
    ['a list end outside a list', bytes(6), 'at byte 0 of 1: a list end with no list open'],
    ['a duplicate key', bytes(3, 1, 'k', 0, 0, 3, 1, 'k', 0, 0), 'at byte 5 of 10: the key "k" appears twice in one section'],
  ])('refuses %s, naming the offset', (_, buf, message) => {
    expect(() => decodeMessage(buf)).toThrow(MalformedVici);
    expect(() => decodeMessage(buf)).toThrow(message);
  });
});

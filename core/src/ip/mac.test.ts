import { MAC } from './mac.js';

describe('MAC', () => {
  it('parses colon and dash forms in any case and prints lower-case with colons', () => {
    expect(MAC.parse('0A:1b:2C:3d:4E:5f').toString()).toBe('0a:1b:2c:3d:4e:5f');
    expect(MAC.parse('0a-1b-2c-3d-4e-5f').toString()).toBe('0a:1b:2c:3d:4e:5f');
  });

  it('keeps all 48 bits, including the top and bottom values', () => {
    expect(MAC.parse('ff:ff:ff:ff:ff:ff').toString()).toBe('ff:ff:ff:ff:ff:ff');
    expect(MAC.parse('00:00:00:00:00:00').toString()).toBe('00:00:00:00:00:00');
    expect([...MAC.parse('fe:dc:ba:98:76:54').bytes]).toEqual([0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54]);
    expect(MAC.parse('80:00:00:00:00:01').toString()).toBe('80:00:00:00:00:01');
  });

  it('turns bytes into the same address as their text, and back', () => {
    const bytes = Uint8Array.of(0x0a, 0x00, 0x00, 0x01, 0x02, 0xff);
    const mac = MAC.fromBytes(bytes);
    expect(mac.toString()).toBe('0a:00:00:01:02:ff');
    expect(mac.equals(MAC.parse('0a:00:00:01:02:ff'))).toBe(true);
    expect(mac.equals(MAC.parse('0a:00:00:01:02:fe'))).toBe(false);
    expect(mac.equals(undefined)).toBe(false);
    expect([...mac.bytes]).toEqual([...bytes]);
  });

  it('writes its bytes into a buffer at an offset, and nothing around them', () => {
    const buf = new Uint8Array(9).fill(7);
    MAC.parse('fe:dc:ba:98:76:54').writeTo(buf, 2);
    expect([...buf]).toEqual([7, 7, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 7]);
  });

  it.each([
    ['02:00:00:00:00:01', true],
    ['fe:ff:ff:ff:ff:ff', true],
    ['00:00:00:00:00:01', true],
    ['00:00:00:00:00:00', false],
    ['01:00:5e:00:00:01', false],
    ['ff:ff:ff:ff:ff:ff', false],
    ['03:00:00:00:00:00', false],
  ])('tells whether %s is a unicast address (%p)', (text, unicast) => {
    expect(MAC.parse(text).isUnicast()).toBe(unicast);
  });

  it('hands out a copy of its bytes', () => {
    const mac = MAC.parse('02:00:00:00:00:01');
    mac.bytes[0] = 0xff;
    expect(mac.toString()).toBe('02:00:00:00:00:01');
  });

  it('rejects what is not six hex pairs with one kind of separator', () => {
    for (const bad of [
      '',
      '0a:1b:2c:3d:4e',
      '0a:1b:2c:3d:4e:5f:60',
      '0a:1b-2c:3d:4e:5f',
      'zz:1b:2c:3d:4e:5f',
      '0a1b2c3d4e5f',
      // Next to the hex digits in ASCII, another separator, a separator that changes, one too many places.
      '0a:1b:2c:3d:4e:5g',
      '0a:1b:2c:3d:4e:5/',
      '0a:1b:2c:3d:4e:5@',
      '0a:1b:2c:3d:4e:5`',
      '0a.1b.2c.3d.4e.5f',
      '0a:1b:2c:3d:4e-5f',
      ' 0a:1b:2c:3d:4e:5',
    ]) {
      expect(MAC.tryParse(bad)).toBeUndefined();
    }
    expect(() => MAC.fromBytes(Uint8Array.of(1, 2, 3))).toThrow(/6 bytes, got 3/);
  });

  it('makes random addresses locally administered and unicast', () => {
    const mac = MAC.randomLocal(() => Uint8Array.of(0xff, 1, 2, 3, 4, 5));
    expect(mac.toString()).toBe('fe:01:02:03:04:05');
  });
});

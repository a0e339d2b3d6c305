import { IP } from '../../ip/ip.js';
import { IPNet } from '../../ip/ipnet.js';
import { MAC } from '../../ip/mac.js';
import { decodeFdb, decodeNeigh, encodeFdb, encodeNeigh } from '../neigh.js';
import { decodeRoute, encodeRoute } from '../route.js';
import { attrBe16, attrStr, attrU32, MessageWriter, NLA_F_NESTED, parseAttrs } from './attrs.js';
import { IFLA_INFO_DATA, IFLA_INFO_KIND, IFLA_LINKINFO, IFLA_VXLAN_ID, IFLA_VXLAN_PORT, RTNH_F_ONLINK } from './constants.js';

describe('netlink attributes', () => {
  it('pads to 4 bytes and nests, and parses back', () => {
    const w = new MessageWriter(8);
    w.nest(IFLA_LINKINFO, () => {
      w.str(IFLA_INFO_KIND, 'vxlan');
      w.nest(IFLA_INFO_DATA, () => w.u32(IFLA_VXLAN_ID, 1).be16(IFLA_VXLAN_PORT, 8472));
    });
    const b = w.toBuffer();
    expect(b.length % 4).toBe(0);
    // outer header: len, type with the nested flag
    expect(b.readUInt16LE(0)).toBe(b.length);
    expect(b.readUInt16LE(2)).toBe(IFLA_LINKINFO | NLA_F_NESTED);
    const info = parseAttrs(b).get(IFLA_LINKINFO)!;
    const inner = parseAttrs(info);
    expect(attrStr(inner.get(IFLA_INFO_KIND))).toBe('vxlan');
    const data = parseAttrs(inner.get(IFLA_INFO_DATA)!);
    expect(attrU32(data.get(IFLA_VXLAN_ID))).toBe(1);
    expect(attrBe16(data.get(IFLA_VXLAN_PORT))).toBe(8472);
    expect([...data.get(IFLA_VXLAN_PORT)!]).toEqual([0x21, 0x18]); // network byte order on the wire
  });

  it('stops at a truncated attribute instead of reading past the end', () => {
    const b = Buffer.from([8, 0, 1, 0, 1, 2, 3, 4, 40, 0, 2, 0]);
    expect(parseAttrs(b).types()).toEqual([1]);
  });

  it('keeps the last of a repeated type, and reads numbers and addresses in place', () => {
    const w = new MessageWriter();
    w.u32(1, 7).u32(1, 9).ip(2, IP.parse('10.1.2.3')).ip(3, IP.parse('fd00::1')).u8(4, 5);
    const a = parseAttrs(w.toBuffer());
    expect(a.types()).toEqual([1, 1, 2, 3, 4]);
    expect(a.size).toBe(5);
    expect(a.u32(1)).toBe(9);
    expect(attrU32(a.get(1))).toBe(9);
    expect(String(a.ip(2))).toBe('10.1.2.3');
    expect(String(a.ip(3))).toBe('fd00::1');
    expect(a.length(3)).toBe(16);
    expect(a.u32(4)).toBeUndefined(); // a u8 is too short to be read as a u32
    expect(a.has(5)).toBe(false);
    expect(a.get(5)).toBeUndefined();
    expect(a.ip(5)).toBeUndefined();
    expect(() => a.ip(4)).toThrow(RangeError); // one byte is no address
  });

  it('reads an empty payload as empty, and an absent attribute as absent', () => {
    const a = parseAttrs(new MessageWriter().bytes(7, new Uint8Array(0)).u32(8, 1).toBuffer());
    expect(a.get(7)).toHaveLength(0);
    expect(a.length(7)).toBe(0);
    expect(a.u32(7)).toBeUndefined();
    expect(a.length(9)).toBeUndefined();
    expect(a.u32(9)).toBeUndefined();
  });

  it('writes a neighbour and an FDB entry byte for byte as they read back (lladdr, IPv4 and IPv6 dst)', () => {
    const mac = MAC.parse('0a:1b:2c:3d:4e:5f');
    const w = new MessageWriter();
    encodeNeigh(w, { linkIndex: 4, ip: IP.parse('10.244.2.0'), mac });
    const neigh = decodeNeigh(w.toBuffer());
    expect(String(neigh?.ip)).toBe('10.244.2.0');
    expect(String(neigh?.mac)).toBe('0a:1b:2c:3d:4e:5f');
    expect([...parseAttrs(w.toBuffer(), 12).get(2)!]).toEqual([0x0a, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f]); // NDA_LLADDR
    expect([...parseAttrs(w.toBuffer(), 12).get(1)!]).toEqual([10, 244, 2, 0]); // NDA_DST, network order
    for (const dst of ['192.0.2.7', '2001:db8::7']) {
      const f = new MessageWriter();
      encodeFdb(f, { linkIndex: 4, mac, dst: IP.parse(dst) });
      const fdb = decodeFdb(f.toBuffer());
      expect([String(fdb?.mac), String(fdb?.dst), fdb?.linkIndex]).toEqual(['0a:1b:2c:3d:4e:5f', dst, 4]);
    }
  });

  it('writes the bytes of a MAC from a copy of core without writeTo', () => {
    const old = { bytes: Uint8Array.of(2, 0, 0, 0, 0, 9) } as unknown as MAC;
    expect([...parseAttrs(new MessageWriter().mac(2, old).toBuffer()).get(2)!]).toEqual([2, 0, 0, 0, 0, 9]);
  });

  it('round-trips the onlink route flannel installs', () => {
    const w = new MessageWriter();
    encodeRoute(w, { dst: IPNet.parse('10.244.2.0/24'), gw: IP.parse('10.244.2.0'), linkIndex: 5, onlink: true });
    const r = decodeRoute(w.toBuffer());
    expect(r).toMatchObject({ family: 4, gw: IP.parse('10.244.2.0'), linkIndex: 5, onlink: true, table: 254, protocol: 3, scope: 0 });
    expect(String(r?.dst)).toBe('10.244.2.0/24');
    expect(w.toBuffer().readUInt32LE(8) & RTNH_F_ONLINK).toBe(RTNH_F_ONLINK);
  });

  it('gives a route with no gateway link scope, as iproute2 does', () => {
    const w = new MessageWriter();
    encodeRoute(w, { dst: IPNet.parse('10.244.0.0/16'), linkIndex: 3 });
    expect(decodeRoute(w.toBuffer())?.scope).toBe(253);
  });
});

describe('MAC', () => {
  it('parses, prints lower-case and makes locally administered unicast addresses', () => {
    expect(String(MAC.parse('C6:D2:32:6F:8F:44'))).toBe('c6:d2:32:6f:8f:44');
    expect(String(MAC.parse('c6-d2-32-6f-8f-44'))).toBe('c6:d2:32:6f:8f:44');
    expect(MAC.tryParse('c6:d2:32:6f:8f')).toBeUndefined();
    expect(MAC.tryParse('c6:d2-32:6f:8f:44')).toBeUndefined();
    const mac = MAC.randomLocal(() => Uint8Array.of(0xff, 1, 2, 3, 4, 5));
    expect(String(mac)).toBe('fe:01:02:03:04:05');
  });
});

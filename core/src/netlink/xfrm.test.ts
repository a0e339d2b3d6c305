// XFRM policy messages byte for byte. The fixtures were recorded on a 6.18 kernel (x86-64) with
// `strace -xx`: what iproute2 6.1 sends for the same `ip xfrm policy` commands, what the kernel answers to
// `ip xfrm policy show`, and what `ip xfrm monitor policy` hears. Only the 16-byte netlink header is left out.
import { IP } from '../ip/ip.js';
import { IPNet } from '../ip/ipnet.js';
import { NetlinkArgumentError } from './errors.js';
import { MessageWriter } from './nl/attrs.js';
import {
  NETLINK_XFRM,
  XFRM_MSG_DELPOLICY,
  XFRM_MSG_FLUSHPOLICY,
  XFRM_MSG_NEWPOLICY,
  XFRM_MSG_POLEXPIRE,
  XFRM_MSG_UPDPOLICY,
  XFRMA_TMPL,
} from './nl/constants.js';
import * as requests from './requests.js';
import type { NetlinkRequest } from './socket/netlink-socket.js';
import { decodeXfrmPolicy, decodeXfrmPolicyEvent, describeXfrmPolicy, encodeXfrmPolicy, xfrmPolicyKey, type XfrmPolicy } from './xfrm.js';

const hex = (...parts: string[]) => Buffer.from(parts.join(''), 'hex');

function body(r: NetlinkRequest): Buffer {
  const w = new MessageWriter();
  r.body(w);
  return w.toBuffer();
}

const net = IPNet.parse;
const ip = IP.parse;
const esp = (src: string, dst: string) => ({ src: ip(src), dst: ip(dst), proto: 'esp' as const, mode: 'tunnel' as const, reqid: 11 });

// ip xfrm policy add src 10.244.1.0/24 dst 10.244.2.0/24 dir out tmpl src 192.0.2.1 dst 192.0.2.2 proto esp reqid 11 mode tunnel
const ADD_OUT_V4 = hex(
  '0af402000000000000000000000000000af40100000000000000000000000000000000000000000002001818000000000000000000000000ffffffffffffffff',
  'ffffffffffffffffffffffffffffffffffffffffffffffff00000000000000000000000000000000000000000000000000000000000000000000000000000000',
  '0000000000000000000000000000000000000000000000000000000000000000010000000000000044000500c000020200000000000000000000000000000000',
  '3200000002000000c00002010000000000000000000000000b00000001000000ffffffffffffffffffffffff',
);

// ip xfrm policy update src fd00:1::/64 dst fd00:2::/64 dir fwd tmpl src 2001:db8::1 dst 2001:db8::2 proto esp reqid 11 mode tunnel
const UPD_FWD_V6 = hex(
  'fd000002000000000000000000000000fd00000100000000000000000000000000000000000000000a004040000000000000000000000000ffffffffffffffff',
  'ffffffffffffffffffffffffffffffffffffffffffffffff00000000000000000000000000000000000000000000000000000000000000000000000000000000',
  '000000000000000000000000000000000000000000000000000000000000000002000000000000004400050020010db800000000000000000000000200000000',
  '320000000a00000020010db80000000000000000000000010b00000001000000ffffffffffffffffffffffff',
);

// ip xfrm policy update src 10.244.1.0/24 dst 10.244.3.0/24 dir in mark 0x10 mask 0xff priority 7
//   tmpl src 192.0.2.3 dst 192.0.2.1 proto esp spi 0x1234 reqid 11 mode tunnel
const UPD_IN_MARK = hex(
  '0af403000000000000000000000000000af40100000000000000000000000000000000000000000002001818000000000000000000000000ffffffffffffffff',
  'ffffffffffffffffffffffffffffffffffffffffffffffff00000000000000000000000000000000000000000000000000000000000000000000000000000000',
  '0000000000000000000000000000000000000000000000000700000000000000000000000000000044000500c000020100000000000000000000000000001234',
  '3200000002000000c00002030000000000000000000000000b00000001000000ffffffffffffffffffffffff0c00150010000000ff000000',
);

// ip xfrm policy delete src 10.244.1.0/24 dst 10.244.3.0/24 dir in mark 0x10 mask 0xff
const DEL_IN_MARK = hex(
  '0af403000000000000000000000000000af401000000000000000000000000000000000000000000020018180000000000000000000000000000000000000000',
  '0c00150010000000ff000000',
);

// The kernel's answer to a dump, for the policy above (index 16, an add time, XFRMA_POLICY_TYPE main)
const DUMPED_IN_MARK = hex(
  '0af403000000000000000000000000000af40100000000000000000000000000000000000000000002001818000000000000000000000000ffffffffffffffff',
  'ffffffffffffffffffffffffffffffffffffffffffffffff00000000000000000000000000000000000000000000000000000000000000000000000000000000',
  '000000000000000032b00f6b0000000000000000000000000700000010000000000000000000000044000500c000020100000000000000000000000000001234',
  '3200000002000000c00002030000000000000000000000000b00000001000000ffffffffffffffffffffffff0a00100000000000000000000c00150010000000',
  'ff000000',
);

// Heard by `ip xfrm monitor policy` on `ip xfrm policy delete src 10.244.1.0/24 dst 10.244.2.0/24 dir out mark 0x10 mask 0xff`
const NOTIFIED_DEL_OUT_MARK = hex(
  '0af402000000000000000000000000000af401000000000000000000000000000000000000000000020018180000000000000000000000000000000001000000',
  'ac0007000af402000000000000000000000000000af40100000000000000000000000000000000000000000002001818000000000000000000000000ffffffff',
  'ffffffffffffffffffffffffffffffffffffffffffffffffffffffff000000000000000000000000000000000000000000000000000000000000000000000000',
  '00000000000000000000000030b10f6b0000000000000000000000000000000001000000010000000000000044000500c0000202000000000000000000000000',
  '000000003200000002000000c00002010000000000000000000000000b00000001000000ffffffffffffffffffffffff0a00100000000000000000000c001500',
  '10000000ff000000',
);

// … and on `ip xfrm policy flush`
const NOTIFIED_FLUSH = hex('0a0010000000000000000000');

const outV4: XfrmPolicy = { src: net('10.244.1.0/24'), dst: net('10.244.2.0/24'), dir: 'out', tmpls: [esp('192.0.2.1', '192.0.2.2')] };
const fwdV6: XfrmPolicy = { src: net('fd00:1::/64'), dst: net('fd00:2::/64'), dir: 'fwd', tmpls: [esp('2001:db8::1', '2001:db8::2')] };
const inMarked: XfrmPolicy = {
  src: net('10.244.1.0/24'),
  dst: net('10.244.3.0/24'),
  dir: 'in',
  priority: 7,
  mark: { value: 0x10, mask: 0xff },
  tmpls: [{ ...esp('192.0.2.3', '192.0.2.1'), spi: 0x1234 }],
};

describe('XFRM policy requests', () => {
  it('encode what `ip xfrm policy` sends: selector, infinite lifetimes, direction, template, mark', () => {
    expect(body(requests.xfrmPolicyUpdate(outV4)).toString('hex')).toBe(ADD_OUT_V4.toString('hex'));
    expect(body(requests.xfrmPolicyUpdate(fwdV6)).toString('hex')).toBe(UPD_FWD_V6.toString('hex'));
    expect(body(requests.xfrmPolicyUpdate(inMarked)).toString('hex')).toBe(UPD_IN_MARK.toString('hex'));
  });

  it('delete by selector, direction and mark only, whatever else the policy given holds', () => {
    expect(body(requests.xfrmPolicyDel(inMarked)).toString('hex')).toBe(DEL_IN_MARK.toString('hex'));
  });

  it('are XFRM requests: message type, protocol for the handle, iproute2 words, and data for a fake kernel', () => {
    const upd = requests.xfrmPolicyUpdate(inMarked);
    expect(upd).toMatchObject({
      type: XFRM_MSG_UPDPOLICY,
      flags: 0,
      protocol: NETLINK_XFRM,
      what: { object: 'xfrm-policy', verb: 'replace', value: inMarked },
    });
    expect(upd.op).toBe(
      'ip xfrm policy update src 10.244.1.0/24 dst 10.244.3.0/24 dir in mark 0x10/0xff priority 7 tmpl src 192.0.2.3 dst 192.0.2.1 proto esp spi 0x1234 reqid 11 mode tunnel',
    );
    const del = requests.xfrmPolicyDel(inMarked);
    expect(del).toMatchObject({ type: XFRM_MSG_DELPOLICY, protocol: NETLINK_XFRM, what: { object: 'xfrm-policy', verb: 'del' } });
    expect(del.what!.value).toEqual({ src: inMarked.src, dst: inMarked.dst, dir: 'in', mark: inMarked.mark });
    expect(del.op).toBe('ip xfrm policy delete src 10.244.1.0/24 dst 10.244.3.0/24 dir in mark 0x10/0xff');
  });

  it('leave out a zero mark, as the kernel treats it as none', () => {
    const zero = { ...outV4, mark: { value: 0, mask: 0 } };
    expect(body(requests.xfrmPolicyUpdate(zero))).toEqual(ADD_OUT_V4);
    expect(xfrmPolicyKey(zero)).toBe(xfrmPolicyKey(outV4));
  });

  it('write every template of a policy into one XFRMA_TMPL array', () => {
    const w = new MessageWriter();
    encodeXfrmPolicy(w, { ...outV4, tmpls: [esp('192.0.2.1', '192.0.2.2'), { ...esp('192.0.2.1', '192.0.2.2'), proto: 'ah', mode: 'transport' }] });
    const b = w.toBuffer();
    expect(b.readUInt16LE(168)).toBe(4 + 2 * 64);
    expect(b.readUInt16LE(170)).toBe(XFRMA_TMPL);
    expect(decodeXfrmPolicy(b)!.tmpls.map((t) => `${t.proto} ${t.mode}`)).toEqual(['esp tunnel', 'ah transport']);
  });

  it.each<[string, XfrmPolicy, RegExp]>([
    ['a selector of two families', { ...outV4, dst: net('fd00:2::/64') }, /src is IPv4 but dst is IPv6; a selector has one family/],
    ['a template of two families', { ...outV4, tmpls: [esp('192.0.2.1', '2001:db8::2')] }, /tmpl 0: src 192.0.2.1 and dst 2001:db8::2 must be of one family/],
    ['an unknown direction', { ...outV4, dir: 'sideways' as 'out' }, /dir must be in, out or fwd/],
    ['an unknown protocol', { ...outV4, tmpls: [{ ...esp('192.0.2.1', '192.0.2.2'), proto: 'gre' as 'esp' }] }, /tmpl 0: proto must be one of esp, ah, comp/],
    [
      'an unknown mode',
      { ...outV4, tmpls: [{ ...esp('192.0.2.1', '192.0.2.2'), mode: 'tunnel6' as 'tunnel' }] },
      /tmpl 0: mode must be one of transport, tunnel/,
    ],
    ['a negative reqid', { ...outV4, tmpls: [{ ...esp('192.0.2.1', '192.0.2.2'), reqid: -1 }] }, /tmpl 0: reqid must be a 32-bit unsigned integer/],
    ['an SPI too large', { ...outV4, tmpls: [{ ...esp('192.0.2.1', '192.0.2.2'), spi: 2 ** 32 }] }, /tmpl 0: spi must be a 32-bit unsigned integer/],
    ['a fractional priority', { ...outV4, priority: 1.5 }, /priority must be a 32-bit unsigned integer/],
    ['a mark too large', { ...outV4, mark: { value: 2 ** 32, mask: 0 } }, /mark value and mask must be 32-bit unsigned integers/],
  ])('refuse %s before sending anything, naming the field', (_what, p, message) => {
    expect(() => requests.xfrmPolicyUpdate(p)).toThrow(NetlinkArgumentError);
    expect(() => requests.xfrmPolicyUpdate(p)).toThrow(message);
    expect(() => requests.xfrmPolicyUpdate(p)).toThrow(/^xfrm policy (out|sideways) 10\.244\.1\.0\/24 -> /);
  });

  it('refuse a selector of two families for a deletion too', () => {
    expect(() => requests.xfrmPolicyDel({ src: net('10.244.1.0/24'), dst: net('fd00::/64'), dir: 'in' })).toThrow(/src is IPv4 but dst is IPv6/);
  });
});

describe('XFRM policies from the kernel', () => {
  it('decode a dump message: selector, priority, index, template with its SPI, mark; the policy type is skipped', () => {
    expect(decodeXfrmPolicy(DUMPED_IN_MARK)).toEqual({ ...inMarked, index: 16 });
  });

  it('decode what they encode, IPv6 included, with the fields the kernel always reports', () => {
    const w = new MessageWriter();
    encodeXfrmPolicy(w, fwdV6);
    expect(decodeXfrmPolicy(w.toBuffer())).toEqual({ ...fwdV6, priority: 0, index: 0 });
  });

  it('report a block policy as such, and skip per-socket policies (no in/out/fwd direction)', () => {
    const w = new MessageWriter();
    encodeXfrmPolicy(w, { ...outV4, action: 'block', tmpls: [] });
    expect(decodeXfrmPolicy(w.toBuffer())).toEqual({ ...outV4, action: 'block', tmpls: [], priority: 0, index: 0 });
    const perSocket = Buffer.from(ADD_OUT_V4);
    perSocket.writeUInt8(3, 160); // XFRM_POLICY_MAX + XFRM_POLICY_IN: a socket's own policy
    expect(decodeXfrmPolicy(perSocket)).toBeUndefined();
  });

  it("skip Mobile IPv6's sub policies (XFRMA_POLICY_TYPE 1): requests here only reach the main database", () => {
    const sub = Buffer.from(DUMPED_IN_MARK);
    const typeAttr = sub.indexOf(Buffer.from('0a001000', 'hex'), 168); // len 10, XFRMA_POLICY_TYPE
    sub.writeUInt8(1, typeAttr + 4);
    expect(decodeXfrmPolicy(sub)).toBeUndefined();
  });

  it('decode notifications: a deletion carries the whole policy, a flush none', () => {
    expect(decodeXfrmPolicyEvent(XFRM_MSG_DELPOLICY, NOTIFIED_DEL_OUT_MARK)).toEqual({
      topic: 'xfrm-policy',
      action: 'del',
      policy: { ...outV4, priority: 0, index: 1, mark: { value: 0x10, mask: 0xff } },
    });
    expect(decodeXfrmPolicyEvent(XFRM_MSG_FLUSHPOLICY, NOTIFIED_FLUSH)).toEqual({ topic: 'xfrm-policy', action: 'flush' });
    expect(decodeXfrmPolicyEvent(XFRM_MSG_NEWPOLICY, DUMPED_IN_MARK)).toEqual({ topic: 'xfrm-policy', action: 'new', policy: { ...inMarked, index: 16 } });
    expect(decodeXfrmPolicyEvent(XFRM_MSG_UPDPOLICY, DUMPED_IN_MARK)).toMatchObject({ action: 'new' });
  });

  it('count a hard policy expiry as a deletion, and a soft one as nothing', () => {
    // struct xfrm_user_polexpire: the policy info, then `hard`, padded to 176 bytes; then the attributes.
    const expire = (hard: number) => {
      const info = DUMPED_IN_MARK.subarray(0, 168);
      const attrs = DUMPED_IN_MARK.subarray(168);
      const head = Buffer.alloc(176);
      info.copy(head);
      head.writeUInt8(hard, 168);
      return Buffer.concat([head, attrs]);
    };
    expect(decodeXfrmPolicyEvent(XFRM_MSG_POLEXPIRE, expire(1))).toEqual({ topic: 'xfrm-policy', action: 'del', policy: { ...inMarked, index: 16 } });
    expect(decodeXfrmPolicyEvent(XFRM_MSG_POLEXPIRE, expire(0))).toBeUndefined();
  });

  it('ignore truncated messages instead of throwing', () => {
    expect(decodeXfrmPolicy(DUMPED_IN_MARK.subarray(0, 100))).toBeUndefined();
    expect(decodeXfrmPolicyEvent(XFRM_MSG_DELPOLICY, NOTIFIED_DEL_OUT_MARK.subarray(0, 80))).toBeUndefined();
  });

  it('describe and key a policy in iproute2 words', () => {
    expect(describeXfrmPolicy('update', outV4)).toBe(
      'ip xfrm policy update src 10.244.1.0/24 dst 10.244.2.0/24 dir out tmpl src 192.0.2.1 dst 192.0.2.2 proto esp reqid 11 mode tunnel',
    );
    expect(xfrmPolicyKey(inMarked)).toBe('xfrm-policy in 10.244.1.0/24 10.244.3.0/24 mark 0x10/0xff');
  });
});

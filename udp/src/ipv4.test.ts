import { randomBytes } from 'node:crypto';
import { decrementTtl, internetChecksum, ipv4ToNumber, isIPv4, NET_UNREACHABLE_MAX_LEN, netUnreachable, numberToIPv4 } from './ipv4.js';

/** A valid IPv4 header of `total` bytes (20-byte header, random identity, the given TTL and protocol). */
function packet(o: { ttl?: number; proto?: number; total?: number; src?: string; dst?: string; frag?: number } = {}): Buffer {
  const total = o.total ?? 60;
  const b = Buffer.alloc(total);
  randomBytes(total - 20).copy(b, 20);
  b[0] = 0x45;
  b.writeUInt16BE(total, 2);
  randomBytes(2).copy(b, 4);
  b.writeUInt16BE(o.frag ?? 0x4000, 6);
  b[8] = o.ttl ?? 64;
  b[9] = o.proto ?? 6;
  b.writeUInt32BE(ipv4ToNumber(o.src ?? '10.244.1.2'), 12);
  b.writeUInt32BE(ipv4ToNumber(o.dst ?? '10.244.2.3'), 16);
  b.writeUInt16BE(internetChecksum(b, 0, 20), 10);
  return b;
}

/**
 * Go's proxy_amd64.c decrement_ttl as an x86 machine runs it: iph->check is the checksum's two bytes read as
 * a little-endian u16; htons(0xFFFF - 0x100) is 0xFFFE there, and htons(0x100) is 1.
 */
function goChecksumAfterDecrement(lo: number, hi: number): [number, number] {
  let check = lo | (hi << 8);
  if (check >= 0xfffe) check += 1 + 1;
  else check += 1;
  check &= 0xffff;
  return [check & 0xff, check >> 8];
}

describe('decrementTtl', () => {
  it('patches the checksum exactly as Go (and the kernel) do, for every checksum value', () => {
    const b = packet();
    for (let check = 0; check <= 0xffff; check++) {
      b[8] = 64;
      b[10] = check >> 8;
      b[11] = check & 0xff;
      expect(decrementTtl(b, 0)).toBe(true);
      const [lo, hi] = goChecksumAfterDecrement(check >> 8, check & 0xff);
      if (b[10] !== lo || b[11] !== hi) throw new Error(`checksum ${check.toString(16)}: got ${b[10]},${b[11]}, Go gives ${lo},${hi}`);
    }
  });

  it('leaves a valid header valid, whatever its contents and TTL', () => {
    for (let i = 0; i < 2000; i++) {
      const ttl = 2 + (i % 254);
      const b = packet({ ttl });
      expect(decrementTtl(b, 0)).toBe(true);
      expect(b[8]).toBe(ttl - 1);
      expect(internetChecksum(b, 0, 20)).toBe(0);
    }
  });

  it('drops at TTL 1 (Go: the TTL reaches 0) and at 0, leaving the packet untouched', () => {
    for (const ttl of [1, 0]) {
      const b = packet({ ttl });
      const before = Buffer.from(b);
      expect(decrementTtl(b, 0)).toBe(false);
      expect(b).toEqual(before);
    }
  });
});

describe('isIPv4', () => {
  it('takes a whole IPv4 packet and nothing else', () => {
    const b = packet({ total: 40 });
    expect(isIPv4(b, 0, 40)).toBe(true);
    expect(isIPv4(b, 0, 19)).toBe(false);
    expect(isIPv4(b, 0, 39)).toBe(false); // shorter than its total length says
    const v6 = Buffer.from(b);
    v6[0] = 0x60;
    expect(isIPv4(v6, 0, 40)).toBe(false);
    const badIhl = Buffer.from(b);
    badIhl[0] = 0x44;
    expect(isIPv4(badIhl, 0, 40)).toBe(false);
  });
});

describe('netUnreachable', () => {
  const from = ipv4ToNumber('10.244.1.0');

  it("builds Go's ICMP net-unreachable: from flannel0's address, TTL 8, quoting the header and 8 bytes", () => {
    const offender = packet({ proto: 17, total: 100, src: '10.244.1.7', dst: '10.244.250.7' });
    const out = Buffer.alloc(NET_UNREACHABLE_MAX_LEN);
    const len = netUnreachable(offender, 0, 100, from, out, 0);
    expect(len).toBe(20 + 8 + 20 + 8);
    const icmp = out.subarray(0, len);
    expect(icmp.subarray(0, 12).toString('hex')).toBe(`4500${len.toString(16).padStart(4, '0')}000000000801${icmp.subarray(10, 12).toString('hex')}`);
    expect(numberToIPv4(icmp.readUInt32BE(12))).toBe('10.244.1.0');
    expect(numberToIPv4(icmp.readUInt32BE(16))).toBe('10.244.1.7');
    expect(internetChecksum(icmp, 0, 20)).toBe(0);
    expect([icmp[20], icmp[21]]).toEqual([3, 0]);
    expect(icmp.readUInt32BE(24)).toBe(0);
    expect(icmp.subarray(28)).toEqual(offender.subarray(0, 28));
    expect(internetChecksum(icmp, 20, len - 20)).toBe(0);
  });

  it('answers an echo request, but never an ICMP error, a later fragment or a packet too short to quote', () => {
    const out = Buffer.alloc(NET_UNREACHABLE_MAX_LEN);
    const echo = packet({ proto: 1, total: 84 });
    echo[20] = 8;
    expect(netUnreachable(echo, 0, 84, from, out, 0)).toBe(56);
    const error = packet({ proto: 1, total: 84 });
    error[20] = 3;
    expect(netUnreachable(error, 0, 84, from, out, 0)).toBe(0);
    expect(netUnreachable(packet({ frag: 0x2001, total: 84 }), 0, 84, from, out, 0)).toBe(0);
    expect(netUnreachable(packet({ frag: 0x4000, total: 84 }), 0, 84, from, out, 0)).toBe(56);
    expect(netUnreachable(packet({ total: 24 }), 0, 24, from, out, 0)).toBe(0);
  });

  it('quotes IP options, up to the 40 bytes Go allows short of 60', () => {
    const withOptions = Buffer.concat([packet({ total: 100 })]);
    withOptions[0] = 0x46; // 24-byte header
    const out = Buffer.alloc(NET_UNREACHABLE_MAX_LEN);
    expect(netUnreachable(withOptions, 0, 100, from, out, 0)).toBe(20 + 8 + 24 + 8);
    withOptions[0] = 0x4f; // 60 bytes: Go calls it malformed
    expect(netUnreachable(withOptions, 0, 100, from, out, 0)).toBe(0);
  });
});

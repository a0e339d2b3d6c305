import { IPNet } from '../ip/ipnet.js';
import { isSubnetKey, makeSubnetKey, parseSubnetKey } from './subnet-key.js';

describe('subnet keys', () => {
  it('round-trips an IPv4 key (TestSubnetNodev4)', () => {
    const parsed = parseSubnetKey('10.12.13.0-24');
    expect(isSubnetKey(parsed)).toBe(true);
    if (!isSubnetKey(parsed)) return;
    expect(parsed.subnet.toString()).toBe('10.12.13.0/24');
    expect(parsed.ipv6Subnet).toBeUndefined();
    expect(makeSubnetKey(parsed.subnet)).toBe('10.12.13.0-24');
  });

  it('round-trips a dual-stack key (TestSubnetNodev6)', () => {
    const parsed = parseSubnetKey('10.12.13.0-24&fd00:12:13::-56');
    if (!isSubnetKey(parsed)) throw new Error(parsed.error);
    expect(parsed.subnet.toString()).toBe('10.12.13.0/24');
    expect(parsed.ipv6Subnet?.toString()).toBe('fd00:12:13::/56');
    expect(makeSubnetKey(parsed.subnet, parsed.ipv6Subnet)).toBe('10.12.13.0-24&fd00:12:13::-56');
  });

  it('writes the IPv6 part in canonical compressed form', () => {
    expect(makeSubnetKey(IPNet.parse('10.5.52.0/24'), IPNet.parse('fd00:0:0:0:0:0:0:0/64'))).toBe('10.5.52.0-24&fd00::-64');
  });

  it("accepts /32 and /128, which Go's key parser rejects", () => {
    expect(isSubnetKey(parseSubnetKey('10.1.1.1-32'))).toBe(true);
    expect(isSubnetKey(parseSubnetKey('10.1.1.0-24&fd00::1-128'))).toBe(true);
  });

  it.each([
    // TestSubnetNodeInvalid
    '10',
    '10.12.13.0',
    '10.12.13-24',
    '10.12.13.300-24',
    '10.12.13.0-24hi',
    '&2001::-56',
    '10.12.13.0-24&:12:13:-56',
    '10.12.13.0-24&20011::-56',
    '10.12.13.0-24&2001-56',
    '10.12.13.0-24&2001::',
    '10.12.13.0-24&2001::-56hi',
    // ours
    '10.12.13.0-33',
    '10.12.13.0-24&fd00::-129',
    'x10.12.13.0-24',
    '10.12.13.5-24',
    '10.12.13.0-24&FD00::-64',
  ])('rejects %j', (key) => {
    const parsed = parseSubnetKey(key);
    expect(isSubnetKey(parsed)).toBe(false);
    expect('error' in parsed && parsed.error.length).toBeTruthy();
  });
});

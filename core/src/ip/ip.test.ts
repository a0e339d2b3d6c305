import { IP } from './ip.js';
import { IPNet } from './ipnet.js';

describe('IP', () => {
  it.each([
    ['10.244.1.0', 4],
    ['255.255.255.255', 4],
    ['0.0.0.0', 4],
    ['fd00::', 6],
    ['2001:db8::1', 6],
    ['::', 6],
    ['::1', 6],
    ['fe80::1:2:3:4', 6],
  ])('parses and prints %s back unchanged', (text, family) => {
    const ip = IP.parse(text);
    expect(ip.family).toBe(family);
    expect(ip.toString()).toBe(text);
  });

  it.each([
    ['FD00:0:0:0:0:0:0:1', 'fd00::1'],
    ['2001:0db8:0000:0000:0001:0000:0000:0001', '2001:db8::1:0:0:1'], // leftmost of two equal zero runs
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group is not compressed
    ['fd00:12:13:0:0:0:0:0', 'fd00:12:13::'],
  ])('prints %s in Go canonical form %s', (text, canonical) => {
    expect(IP.parse(text).toString()).toBe(canonical);
  });

  it.each([
    '',
    '1.2.3',
    '1.2.3.4.5',
    '256.1.1.1',
    '01.2.3.4',
    '1.2.3.-1',
    'a.b.c.d',
    '.1.2.3',
    '1.2.3.4.',
    '1..2.3',
    '1.2.3.0255',
    '1.2.3.00',
    ' 1.2.3.4',
    '1.2.3.+4',
    '1.2.3.4/8',
    ':::',
    '1::2::3',
    '12345::',
    'g::1',
    '1:2:3:4:5:6:7:8:9',
    'fe80::1%eth0',
  ])('rejects %j', (text) => {
    expect(IP.tryParse(text)).toBeUndefined();
    expect(() => IP.parse(text)).toThrow(/invalid IP address/);
  });

  it('prints the same text again, and equal addresses compare equal whether or not one was printed', () => {
    const printed = IP.parse('10.9.8.7');
    expect(printed.toString()).toBe('10.9.8.7');
    expect(printed.toString()).toBe('10.9.8.7');
    expect(printed).toEqual(IP.parse('10.9.8.7'));
    expect(IP.v4(0x0a090807).toString()).toBe('10.9.8.7');
  });

  it.each([-1, 2 ** 32, 1.5, NaN])('refuses %p as an IPv4 value', (v) => {
    expect(() => IP.v4(v)).toThrow(RangeError);
  });

  it('round-trips through bytes', () => {
    expect([...IP.parse('10.1.2.3').toBytes()]).toEqual([10, 1, 2, 3]);
    const v6 = IP.parse('fd00::1:2');
    expect(v6.toBytes()).toHaveLength(16);
    expect(IP.fromBytes(v6.toBytes()).equals(v6)).toBe(true);
  });

  it('adds and compares within a family', () => {
    expect(IP.parse('10.0.0.255').add(1).toString()).toBe('10.0.1.0');
    expect(IP.parse('10.0.0.1').compare(IP.parse('10.0.0.2'))).toBeLessThan(0);
    expect(() => IP.parse('255.255.255.255').add(1)).toThrow(RangeError);
  });
});

describe('IPNet', () => {
  it('keeps an address without host bits as it is, and masks at /0 and /32', () => {
    const ip = IP.parse('10.1.2.0');
    expect(new IPNet(ip, 24).ip).toBe(ip);
    expect(String(new IPNet(IP.parse('10.1.2.3'), 0))).toBe('0.0.0.0/0');
    expect(String(new IPNet(IP.parse('10.1.2.3'), 32))).toBe('10.1.2.3/32');
    expect(String(new IPNet(IP.parse('255.255.255.255'), 1))).toBe('128.0.0.0/1');
  });

  it('masks host bits off, as Go ParseCIDR does', () => {
    expect(IPNet.parse('10.1.2.3/16').toString()).toBe('10.1.0.0/16');
    expect(IPNet.parse('fd00::1:2/64').toString()).toBe('fd00::/64');
  });

  it.each(['10.0.0.0', '10.0.0.0/33', 'fd00::/129', '10.0.0.0/-1', '10.0.0.0/08', 'x/8'])('rejects %j', (text) => {
    expect(IPNet.tryParse(text)).toBeUndefined();
  });

  it('knows containment, overlap and the next subnet', () => {
    const net = IPNet.parse('10.3.0.0/16');
    expect(net.contains(IP.parse('10.3.255.1'))).toBe(true);
    expect(net.contains(IP.parse('10.4.0.0'))).toBe(false);
    expect(net.contains(IP.parse('fd00::'))).toBe(false);
    expect(net.overlaps(IPNet.parse('10.3.7.0/24'))).toBe(true);
    expect(IPNet.parse('10.3.7.0/24').overlaps(net)).toBe(true);
    expect(net.overlaps(IPNet.parse('10.4.0.0/24'))).toBe(false);
    expect(IPNet.parse('10.3.255.0/24').next().toString()).toBe('10.4.0.0/24');
    expect(IPNet.parse('fd00:0:0:ffff::/64').next().toString()).toBe('fd00:0:1::/64');
    expect(net.size).toBe(65536n);
  });
});

import { ipv4ToNumber as ip } from './ipv4.js';
import { PeerTable, prefixMask } from './peer-table.js';

describe('PeerTable', () => {
  it('finds the peer of the most specific subnet that holds the address', () => {
    const t = new PeerTable();
    t.set(ip('10.244.0.0'), 16, { ip: ip('192.0.2.1'), port: 8285 });
    t.set(ip('10.244.2.0'), 24, { ip: ip('192.0.2.2'), port: 8285 });
    t.set(ip('10.244.2.128'), 25, { ip: ip('192.0.2.3'), port: 8285 });
    expect(t.lookup(ip('10.244.2.200'))).toEqual({ ip: ip('192.0.2.3'), port: 8285 });
    expect(t.lookup(ip('10.244.2.7'))).toEqual({ ip: ip('192.0.2.2'), port: 8285 });
    expect(t.lookup(ip('10.244.9.9'))).toEqual({ ip: ip('192.0.2.1'), port: 8285 });
    expect(t.lookup(ip('10.245.0.1'))).toBeUndefined();
    expect(t.size).toBe(3);
  });

  it('replaces a subnet’s peer, ignores host bits, and forgets deleted subnets', () => {
    const t = new PeerTable();
    t.set(ip('10.244.2.0'), 24, { ip: ip('192.0.2.2'), port: 8285 });
    t.set(ip('10.244.2.99'), 24, { ip: ip('192.0.2.9'), port: 9000 });
    expect(t.size).toBe(1);
    expect(t.lookup(ip('10.244.2.1'))).toEqual({ ip: ip('192.0.2.9'), port: 9000 });
    expect(t.delete(ip('10.244.2.0'), 23)).toBe(false);
    expect(t.delete(ip('10.244.2.0'), 24)).toBe(true);
    expect(t.lookup(ip('10.244.2.1'))).toBeUndefined();
    expect(t.size).toBe(0);
  });

  it('applies the control thread’s operations in order, clear included', () => {
    const t = new PeerTable();
    t.apply({ op: 'set', net: ip('10.244.3.0'), len: 24, ip: ip('192.0.2.3'), port: 8285 });
    t.apply({ op: 'clear' });
    t.apply({ op: 'set', net: ip('10.244.4.0'), len: 24, ip: ip('192.0.2.4'), port: 8285 });
    t.apply({ op: 'del', net: ip('10.244.3.0'), len: 24 });
    expect(t.lookup(ip('10.244.3.1'))).toBeUndefined();
    expect(t.lookup(ip('10.244.4.1'))?.ip).toBe(ip('192.0.2.4'));
  });

  it('handles /0 and /32', () => {
    expect(prefixMask(0)).toBe(0);
    expect(prefixMask(32)).toBe(0xffffffff);
    const t = new PeerTable();
    t.set(0, 0, { ip: 1, port: 1 });
    t.set(ip('10.244.1.1'), 32, { ip: 2, port: 2 });
    expect(t.lookup(ip('10.244.1.1'))?.ip).toBe(2);
    expect(t.lookup(ip('8.8.8.8'))?.ip).toBe(1);
  });
});

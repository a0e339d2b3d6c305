import { IP, IPNet, type Lease } from '@flannel-ts/core';
import { loadNetConfig } from '@flannel-ts/core/testing';
import { ipv4ToNumber as ip } from './ipv4.js';
import { UdpPeers } from './peers.js';

const config = loadNetConfig('{"Network":"10.244.0.0/16","Backend":{"Type":"udp"}}');
const own: Lease = { subnet: IPNet.parse('10.244.1.0/24'), attrs: { publicIP: IP.parse('192.0.2.1'), backendType: 'udp' } };
/** A peer lease; an attribute given as undefined is left out. */
const lease = (n: number, attrs: { [K in keyof Lease['attrs']]?: Lease['attrs'][K] | undefined } = {}, subnet = `10.244.${n}.0/24`): Lease => {
  const a: Record<string, unknown> = { publicIP: IP.parse(`192.0.2.${n}`), backendType: 'udp', ...attrs };
  for (const k of Object.keys(a)) if (a[k] === undefined) delete a[k];
  return { subnet: IPNet.parse(subnet), attrs: a as Lease['attrs'] };
};
const set = (n: number) => ({ op: 'set', net: ip(`10.244.${n}.0`), len: 24, ip: ip(`192.0.2.${n}`), port: 8285 });
const del = (n: number) => ({ op: 'del', net: ip(`10.244.${n}.0`), len: 24 });

describe('UdpPeers', () => {
  it('takes our "udp" leases and Go’s leases without BackendType alike, and never our own', () => {
    const p = new UdpPeers(own, config, 8285);
    const goLease: Lease = { subnet: IPNet.parse('10.244.3.0/24'), attrs: { publicIP: IP.parse('192.0.2.3') } };
    const ch = p.apply({ kind: 'snapshot', snapshot: [own, lease(2), goLease] });
    expect(ch.ops).toEqual([{ op: 'clear' }, set(2), set(3)]);
    expect(ch.added).toBe(2);
    expect(p.synced).toBe(true);
    expect(p.stats()).toEqual({ peers: 2, skippedPeers: 0 });
  });

  it('follows added, changed and removed leases; an empty batch removes nothing', () => {
    const p = new UdpPeers(own, config, 8285);
    p.apply({ kind: 'snapshot', snapshot: [] });
    expect(p.apply({ kind: 'events', events: [{ type: 'added', lease: lease(2) }] }).ops).toEqual([set(2)]);
    const moved = lease(2, { publicIP: IP.parse('198.51.100.2') });
    expect(p.apply({ kind: 'events', events: [{ type: 'added', lease: moved }] }).ops).toEqual([{ ...set(2), ip: ip('198.51.100.2') }]);
    expect(p.apply({ kind: 'events', events: [] }).ops).toEqual([]);
    // A store's delete names only the subnet.
    const gone = p.apply({ kind: 'events', events: [{ type: 'removed', lease: { subnet: IPNet.parse('10.244.2.0/24'), attrs: {} } }] });
    expect(gone).toMatchObject({ ops: [del(2)], removed: 1 });
    expect(p.stats()).toEqual({ peers: 0, skippedPeers: 0 });
  });

  it('skips, with the reason, a lease that could steer traffic that is not its own', () => {
    const p = new UdpPeers(own, config, 8285);
    const ch = p.apply({
      kind: 'snapshot',
      snapshot: [
        lease(2, { backendType: 'vxlan' }),
        lease(3, {}, '10.245.3.0/24'),
        lease(4, {}, '10.244.0.0/20'),
        lease(5, { publicIP: IP.parse('192.0.2.1') }),
        lease(6, { publicIP: undefined }),
        { ipv6Subnet: IPNet.parse('fd00::/64'), attrs: { publicIPv6: IP.parse('2001:db8::7'), backendType: 'udp' } },
      ],
    });
    expect(ch.ops).toEqual([{ op: 'clear' }]);
    expect(ch.skipped.map((s) => s.problems)).toEqual([
      ['BackendType is "vxlan", not "udp" (or none, as Go flannel\'s udp writes)'],
      ['10.245.3.0/24 is outside the network 10.244.0.0/16'],
      ['10.244.0.0/20 is a /20, but node subnets are /24', '10.244.0.0/20 overlaps our own subnet 10.244.1.0/24'],
      ['it claims our PublicIP 192.0.2.1'],
      ['it has no PublicIP'],
      ['it has no IPv4 subnet (the udp backend carries IPv4 only)'],
    ]);
    expect(p.stats()).toEqual({ peers: 0, skippedPeers: 6 });
    expect(p.status().every((s) => s.state === 'skipped')).toBe(true);
  });

  it('withdraws a programmed peer whose new lease is refused, and reports a refusal once', () => {
    const p = new UdpPeers(own, config, 8285);
    p.apply({ kind: 'snapshot', snapshot: [lease(2)] });
    const bad = lease(2, { backendType: 'host-gw' });
    const first = p.apply({ kind: 'events', events: [{ type: 'added', lease: bad }] });
    expect(first.ops).toEqual([del(2)]);
    expect(first.skipped).toHaveLength(1);
    expect(p.apply({ kind: 'events', events: [{ type: 'added', lease: bad }] }).skipped).toHaveLength(0);
  });

  it('replaces everything known with a later snapshot, counting what went', () => {
    const p = new UdpPeers(own, config, 8285);
    p.apply({ kind: 'snapshot', snapshot: [lease(2), lease(3)] });
    const ch = p.apply({ kind: 'snapshot', snapshot: [lease(3), lease(4)] });
    expect(ch).toMatchObject({ ops: [{ op: 'clear' }, set(3), set(4)], added: 1, removed: 1 });
  });

  it('sends to every peer on our own configured port, as Go does', () => {
    const p = new UdpPeers(own, config, 9999);
    expect(p.apply({ kind: 'snapshot', snapshot: [lease(2)] }).ops).toEqual([{ op: 'clear' }, { ...set(2), port: 9999 }]);
  });
});

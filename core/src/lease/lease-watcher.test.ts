import { firstValueFrom, from, Subject, toArray } from 'rxjs';
import type { Lease, LeaseEvent, LeaseWatchResult } from '../contracts/lease.js';
import { IP } from '../ip/ip.js';
import { IPNet } from '../ip/ipnet.js';
import { toLeaseEvents } from './lease-events.js';
import { LeaseWatcher } from './lease-watcher.js';

function lease(subnet: string, publicIP: string, mac = 'aa:bb:cc:dd:ee:01', ipv6Subnet?: string): Lease {
  return {
    subnet: IPNet.parse(subnet),
    ...(ipv6Subnet ? { ipv6Subnet: IPNet.parse(ipv6Subnet) } : {}),
    attrs: { publicIP: IP.parse(publicIP), backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: mac } },
  };
}

/** What an etcd delete event carries: the subnet and nothing else. */
function bareRemoval(subnet: string): LeaseEvent {
  return { type: 'removed', lease: { subnet: IPNet.parse(subnet), attrs: {} } };
}

const summary = (events: LeaseEvent[]) => events.map((e) => `${e.type} ${e.lease.subnet} ${e.lease.attrs.publicIP ?? '-'}`);

const own = lease('10.5.1.0/24', '192.0.2.1');
const peerA = lease('10.5.2.0/24', '192.0.2.2');
const peerB = lease('10.5.3.0/24', '192.0.2.3');

describe('LeaseWatcher', () => {
  it('reports Added for new peers and never for our own lease', () => {
    const w = new LeaseWatcher(own);
    expect(
      summary(
        w.update([
          { type: 'added', lease: own },
          { type: 'added', lease: peerA },
        ]),
      ),
    ).toEqual(['added 10.5.2.0/24 192.0.2.2']);
    expect(summary(w.reset([own, peerA, peerB]))).toEqual(['added 10.5.3.0/24 192.0.2.3']);
  });

  it('carries the stored attributes on Removed, since the store sends only the subnet', () => {
    const w = new LeaseWatcher(own);
    w.update([{ type: 'added', lease: peerA }]);
    const [removed] = w.update([bareRemoval('10.5.2.0/24')]);
    expect(removed?.type).toBe('removed');
    expect(removed?.lease.attrs).toEqual(peerA.attrs);
    expect(w.peers()).toEqual([]);
  });

  it('passes through and reports a removal of a lease it never knew', () => {
    const unknown: Lease[] = [];
    const w = new LeaseWatcher(own, (l) => unknown.push(l));
    expect(summary(w.update([bareRemoval('10.5.9.0/24')]))).toEqual(['removed 10.5.9.0/24 -']);
    expect(unknown.map((l) => String(l.subnet))).toEqual(['10.5.9.0/24']);
  });

  it('drops removals of our own lease (the daemon watches that separately)', () => {
    expect(new LeaseWatcher(own).update([bareRemoval('10.5.1.0/24')])).toEqual([]);
  });

  it('replaces a known lease on a repeated Added', () => {
    const w = new LeaseWatcher(own);
    w.update([{ type: 'added', lease: peerA }]);
    const moved = lease('10.5.2.0/24', '192.0.2.22');
    expect(summary(w.update([{ type: 'added', lease: moved }]))).toEqual(['added 10.5.2.0/24 192.0.2.22']);
    expect(w.peers()).toHaveLength(1);
  });

  it('diffs a snapshot against what it knows: new ones Added, missing ones Removed, unchanged silent', () => {
    const w = new LeaseWatcher(own);
    w.reset([own, peerA]);
    const peerC = lease('10.5.4.0/24', '192.0.2.4');
    expect(summary(w.reset([own, peerA, peerC]))).toEqual(['added 10.5.4.0/24 192.0.2.4']);
    expect(summary(w.reset([own, peerC]))).toEqual(['removed 10.5.2.0/24 192.0.2.2']);
    expect(w.reset([own, peerC])).toEqual([]);
  });

  it('reports a snapshot lease whose attributes changed as Added with the new attributes', () => {
    const w = new LeaseWatcher(own);
    w.reset([peerA]);
    const newMac = lease('10.5.2.0/24', '192.0.2.2', 'aa:bb:cc:dd:ee:99');
    const events = w.reset([newMac]);
    expect(events).toHaveLength(1);
    expect(events[0]?.type).toBe('added');
    expect(events[0]?.lease.attrs.backendData).toEqual({ VNI: 1, VtepMAC: 'aa:bb:cc:dd:ee:99' });
  });

  it('diffs a snapshot in slices exactly as in one piece, pausing between slices', async () => {
    const peers = (from: number, n: number) => Array.from({ length: n }, (_, i) => lease(`10.6.${from + i}.0/24`, `192.0.2.${from + i}`));
    const [whole, sliced] = [new LeaseWatcher(own), new LeaseWatcher(own)];
    for (const w of [whole, sliced]) w.reset([own, ...peers(0, 10)]);
    // Five peers gone, five new, one with a new MAC.
    const changed = lease('10.6.6.0/24', '192.0.2.6', 'aa:bb:cc:dd:ee:99');
    const next = [own, ...peers(5, 10).map((l) => (l.subnet!.equals(changed.subnet) ? changed : l))];
    let pauses = 0;
    const events = await sliced.resetInSlices(next, 4, async () => pauses++);
    expect(pauses).toBe(Math.ceil(next.length / 4) - 1);
    expect(summary(events)).toEqual(summary(whole.reset(next)));
    expect(events.filter((e) => e.type === 'added').map((e) => String(e.lease.subnet))).toEqual(['10.6.6.0/24', ...peers(10, 5).map((l) => String(l.subnet))]);
    expect(events.filter((e) => e.type === 'removed')).toHaveLength(5);
    expect(sliced.peers()).toEqual(whole.peers());
  });

  it('removes nothing on an empty batch of events (Go flannel withdraws every peer there)', () => {
    const w = new LeaseWatcher(own);
    w.reset([own, peerA, peerB]);
    expect(w.apply({ kind: 'events', events: [] })).toEqual([]);
    expect(w.peers()).toHaveLength(2);
  });

  it('does remove every peer on an empty snapshot: the store says none are left', () => {
    const w = new LeaseWatcher(own);
    w.reset([own, peerA, peerB]);
    expect(summary(w.apply({ kind: 'snapshot', snapshot: [] }))).toEqual(['removed 10.5.2.0/24 192.0.2.2', 'removed 10.5.3.0/24 192.0.2.3']);
  });

  it('matches dual-stack leases on both parts and IPv6-only leases on the IPv6 part', () => {
    const ownDual = lease('10.5.1.0/24', '192.0.2.1', undefined, 'fd00:5:1::/64');
    const w = new LeaseWatcher(ownDual);
    const peer = lease('10.5.2.0/24', '192.0.2.2', undefined, 'fd00:5:2::/64');
    expect(w.update([{ type: 'added', lease: peer }])).toHaveLength(1);
    const v6only: Lease = { ipv6Subnet: IPNet.parse('fd00:5:2::/64'), attrs: {} };
    expect(w.update([{ type: 'removed', lease: v6only }])[0]?.lease.attrs).toEqual(peer.attrs);
    expect(w.update([{ type: 'added', lease: { ...ownDual, attrs: {} } }])).toEqual([]);
  });
});

describe('toLeaseEvents (RxJS)', () => {
  it('emits only non-empty batches, in order', async () => {
    const results: LeaseWatchResult[] = [
      { kind: 'snapshot', snapshot: [own, peerA] },
      { kind: 'events', events: [] },
      { kind: 'events', events: [{ type: 'added', lease: own }] },
      { kind: 'events', events: [bareRemoval('10.5.2.0/24'), { type: 'added', lease: peerB }] },
    ];
    const batches = await firstValueFrom(from(results).pipe(toLeaseEvents(own), toArray()));
    expect(batches.map(summary)).toEqual([['added 10.5.2.0/24 192.0.2.2'], ['removed 10.5.2.0/24 192.0.2.2', 'added 10.5.3.0/24 192.0.2.3']]);
  });

  it('gives each subscriber its own view of the peers', () => {
    const source = new Subject<LeaseWatchResult>();
    const events$ = source.pipe(toLeaseEvents(own));
    const first: LeaseEvent[][] = [];
    const second: LeaseEvent[][] = [];
    events$.subscribe((b) => first.push(b));
    source.next({ kind: 'events', events: [{ type: 'added', lease: peerA }] });
    events$.subscribe((b) => second.push(b));
    source.next({ kind: 'snapshot', snapshot: [peerA] });
    expect(first).toHaveLength(1); // peerA already known: the snapshot changes nothing
    expect(second.map(summary)).toEqual([['added 10.5.2.0/24 192.0.2.2']]);
  });
});

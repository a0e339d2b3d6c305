import { IP } from '../ip/ip.js';
import { IPNet } from '../ip/ipnet.js';
import type { Dataplane, PeerPlan } from '../contracts/dataplane.js';
import type { ReconcilerObserver } from '../contracts/observer.js';
import type { Lease } from '../contracts/lease.js';
import type { NetworkConfig } from '../contracts/network-config.js';
import { loadNetConfig } from '../config/net-conf.js';
import { FLANNEL_ROUTE_PROTOCOL } from '../contracts/route-protocol.js';
import { FakeClock, settle } from '../testing/fake-clock.js';
import { FakeNetlink } from '../testing/fake-netlink.js';
import { LeaseEventDriver } from '../testing/lease-event-driver.js';
import { RecordingLogger } from '../testing/recording-logger.js';
import { routeEntry } from './entries.js';
import { ENTRIES_PER_SLICE, type KernelEntry } from './kernel-entry.js';
import { DEFAULT_TIMING, EVENTS_PER_SLICE, Reconciler } from './reconciler.js';

const own: Lease = { subnet: IPNet.parse('10.244.1.0/24'), attrs: { publicIP: IP.parse('192.0.2.1'), backendType: 'test' } };
const peer = (n: number, gw = `192.0.2.${n}`): Lease => ({ subnet: IPNet.parse(`10.244.${n}.0/24`), attrs: { publicIP: IP.parse(gw), backendType: 'test' } });

/** A route per peer via its public IP on device #2; a lease with publicIP 192.0.2.99 is "malformed". */
class RouteDataplane implements Dataplane {
  devicesChecked = 0;
  constructor(private readonly nl: FakeNetlink) {}
  planPeer(lease: Lease): PeerPlan {
    if (lease.attrs.publicIP?.toString() === '192.0.2.99') return { entries: [], problems: ['PublicIP 192.0.2.99 is refused'] };
    return { entries: [routeEntry({ dst: lease.subnet!, gw: lease.attrs.publicIP!, linkIndex: 2 })], problems: [] };
  }
  async readKernel(): Promise<KernelEntry[]> {
    return (await this.nl.routeList(4, { protocol: FLANNEL_ROUTE_PROTOCOL })).map(routeEntry);
  }
  async ensureDevices(): Promise<boolean> {
    this.devicesChecked++;
    return false;
  }
  readonly watch = {
    topics: ['route' as const],
    deletionsOnly: ['route' as const],
    classify: (ev: Parameters<Dataplane['watch']['classify']>[0]) =>
      ev.topic === 'route' && ev.action === 'del' && ev.route.protocol === FLANNEL_ROUTE_PROTOCOL ? { deleted: routeEntry(ev.route).key } : undefined,
  };
}

/** Everything the engine reports, as a metrics exporter would receive it. */
class RecordingObserver implements ReconcilerObserver {
  readonly events: Record<string, number> = {};
  readonly passes: string[] = [];
  readonly started: string[] = [];
  readonly repairs: Record<string, number> = {};
  ops = 0;
  readonly errors: Record<string, number> = {};
  readonly latencies: number[] = [];
  leaseEvents(type: string, n: number) {
    this.events[type] = (this.events[type] ?? 0) + n;
  }
  passStarted(kind: string) {
    this.started.push(kind);
  }
  reconcilePass(kind: string, ok: boolean) {
    this.passes.push(`${kind}:${ok ? 'ok' : 'failed'}`);
  }
  repaired(kind: string, n: number) {
    this.repairs[kind] = (this.repairs[kind] ?? 0) + n;
  }
  netlinkOps(n: number, errors: ReadonlyMap<string, number>) {
    this.ops += n;
    for (const [k, v] of errors) this.errors[k] = (this.errors[k] ?? 0) + v;
  }
  leaseToKernel(s: number) {
    this.latencies.push(s);
  }
}

function setup(config?: NetworkConfig) {
  const nl = new FakeNetlink();
  nl.addDevice('eth0');
  const clock = new FakeClock();
  const leases = new LeaseEventDriver();
  const logger = new RecordingLogger();
  const dataplane = new RouteDataplane(nl);
  const observer = new RecordingObserver();
  const engine = new Reconciler(dataplane, { netlink: nl, logger, clock, leases: leases.stream, ownLease: own, observer, ...(config ? { config } : {}) });
  const stop = new AbortController();
  const running = engine.run(stop.signal);
  const routes = () =>
    [...nl.routes.values()]
      .filter((r) => r.protocol === FLANNEL_ROUTE_PROTOCOL)
      .map((r) => `${r.dst} via ${r.gw}`)
      .sort();
  /** A route of ours (protocol 70, on eth0) that the kernel holds already, as a previous run would leave it. */
  const kernelRoute = (dst: string, gw: string) => nl.routeReplace({ dst: IPNet.parse(dst), gw: IP.parse(gw), linkIndex: 2, protocol: FLANNEL_ROUTE_PROTOCOL });
  return { nl, clock, leases, logger, engine, dataplane, observer, stop, running, routes, kernelRoute };
}

describe('Reconciler', () => {
  it('programs the snapshot, then follows added and removed leases, never our own', async () => {
    const t = setup();
    t.leases.snapshot(own, peer(2), peer(3));
    await settle();
    expect(t.routes()).toEqual(['10.244.2.0/24 via 192.0.2.2', '10.244.3.0/24 via 192.0.2.3']);
    t.leases.added(peer(4));
    t.leases.removed(peer(2));
    await settle();
    expect(t.routes()).toEqual(['10.244.3.0/24 via 192.0.2.3', '10.244.4.0/24 via 192.0.2.4']);
    expect(t.engine.stats()).toMatchObject({ peers: 2, skippedPeers: 0 });
    t.stop.abort();
    await t.running;
  });

  it('replaces a route whose peer moved, without deleting it first', async () => {
    const t = setup();
    t.leases.snapshot(peer(2));
    await settle();
    t.nl.ops.length = 0;
    t.leases.added(peer(2, '192.0.2.50'));
    await settle();
    expect(t.routes()).toEqual(['10.244.2.0/24 via 192.0.2.50']);
    expect(t.nl.ops).toEqual(['ip route replace 10.244.2.0/24 via 192.0.2.50 dev #2']);
    t.stop.abort();
    await t.running;
  });

  it('leaves stale routes alone until the first snapshot is applied, then prunes them', async () => {
    const t = setup();
    await t.kernelRoute('10.244.9.0/24', '192.0.2.9');
    await t.clock.advance(DEFAULT_TIMING.resyncMs); // a periodic resync before any lease is known
    expect(t.routes()).toEqual(['10.244.9.0/24 via 192.0.2.9']);
    t.leases.snapshot(peer(2));
    await t.clock.advance(DEFAULT_TIMING.minGapMs);
    expect(t.routes()).toEqual(['10.244.2.0/24 via 192.0.2.2']);
    t.stop.abort();
    await t.running;
  });

  it('compares the first snapshot with the kernel: a restart with every route in place writes nothing, and a stale one goes in that pass', async () => {
    const t = setup();
    // What the last run left: peer 2 and 3 as they still are, and a peer that left while flanneld was down.
    await t.kernelRoute('10.244.2.0/24', '192.0.2.2');
    await t.kernelRoute('10.244.3.0/24', '192.0.2.3');
    await t.kernelRoute('10.244.9.0/24', '192.0.2.9');
    t.nl.ops.length = 0;
    t.leases.snapshot(peer(2), peer(3));
    await settle();
    expect(t.nl.ops).toEqual(['ip route del 10.244.9.0/24 via 192.0.2.9 dev #2']);
    expect(t.routes()).toEqual(['10.244.2.0/24 via 192.0.2.2', '10.244.3.0/24 via 192.0.2.3']);
    expect(t.engine.stats().synced).toBe(true);
    await t.clock.advance(DEFAULT_TIMING.minGapMs + DEFAULT_TIMING.settleMs);
    expect(t.observer.passes).toEqual(['events:ok']); // no full sync after it
    t.stop.abort();
    await t.running;
  });

  it('says it is synced only once the first pass is written, not while its writes are under way', async () => {
    const t = setup();
    const apply = t.nl.apply.bind(t.nl);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    t.nl.apply = async (requests) => {
      await held;
      return apply(requests);
    };
    t.leases.snapshot(peer(2));
    await settle();
    expect(t.routes()).toEqual([]);
    expect(t.engine.stats().synced).toBe(false);
    release();
    await settle();
    expect(t.routes()).toEqual(['10.244.2.0/24 via 192.0.2.2']);
    expect(t.engine.stats().synced).toBe(true);
    t.stop.abort();
    await t.running;
  });

  it('writes the first snapshot whole when the kernel cannot be read, and compares once it can', async () => {
    const t = setup();
    await t.kernelRoute('10.244.9.0/24', '192.0.2.9');
    const readKernel = t.dataplane.readKernel.bind(t.dataplane);
    let unreadable = true;
    t.dataplane.readKernel = () => (unreadable ? Promise.reject(new Error('ENOBUFS')) : readKernel());
    t.leases.snapshot(peer(2));
    await settle();
    expect(t.routes()).toEqual(['10.244.2.0/24 via 192.0.2.2', '10.244.9.0/24 via 192.0.2.9']);
    expect(t.engine.stats().synced).toBe(false);
    expect(t.logger.messages('warn')).toContain('cannot read the kernel before the first pass; writing every peer, and comparing after');
    unreadable = false;
    await t.clock.advance(DEFAULT_TIMING.retryMs + DEFAULT_TIMING.minGapMs); // the first full sync (tried again, if it came first)
    expect(t.routes()).toEqual(['10.244.2.0/24 via 192.0.2.2']);
    expect(t.engine.stats().synced).toBe(true);
    t.stop.abort();
    await t.running;
  });

  it('repairs a route someone deleted, but not one it deleted itself', async () => {
    const t = setup();
    t.leases.snapshot(peer(2), peer(3));
    await t.clock.advance(DEFAULT_TIMING.minGapMs);
    const checked = t.dataplane.devicesChecked;
    t.leases.removed(peer(3));
    await t.clock.advance(DEFAULT_TIMING.minGapMs + DEFAULT_TIMING.settleMs);
    expect(t.dataplane.devicesChecked).toBe(checked); // our own deletion caused no resync
    await t.nl.routeDel({ dst: IPNet.parse('10.244.2.0/24') });
    expect(t.routes()).toEqual([]);
    await t.clock.advance(DEFAULT_TIMING.minGapMs + DEFAULT_TIMING.settleMs);
    expect(t.routes()).toEqual(['10.244.2.0/24 via 192.0.2.2']);
    expect(t.logger.entries.find((e) => e.msg === 'repairing kernel state')?.obj).toMatchObject({
      operations: 1,
      reasons: ['route 254 10.244.2.0/24 deleted'],
    });
    t.stop.abort();
    await t.running;
  });

  it('coalesces a burst of deletions into one resync', async () => {
    const t = setup();
    const peers = Array.from({ length: 50 }, (_, i) => peer(i + 2));
    t.leases.snapshot(...peers);
    await t.clock.advance(DEFAULT_TIMING.minGapMs);
    const before = t.dataplane.devicesChecked;
    for (const p of peers) await t.nl.routeDel({ dst: p.subnet! });
    await t.clock.advance(DEFAULT_TIMING.minGapMs + DEFAULT_TIMING.settleMs);
    expect(t.dataplane.devicesChecked - before).toBe(1);
    expect(t.routes()).toHaveLength(50);
    t.stop.abort();
    await t.running;
  });

  it('retries failed writes with a resync', async () => {
    const t = setup();
    t.nl.failNext(/10\.244\.2\.0/, 16 /* EBUSY */);
    t.leases.snapshot(peer(2));
    await settle();
    expect(t.routes()).toEqual([]);
    expect(t.logger.messages('warn')).toContain('netlink operation failed while applying lease events');
    await t.clock.advance(DEFAULT_TIMING.retryMs);
    expect(t.routes()).toEqual(['10.244.2.0/24 via 192.0.2.2']);
    t.stop.abort();
    await t.running;
  });

  it("counts a malformed lease as skipped, says why, and refuses a lease that claims another peer's route", async () => {
    const t = setup();
    const dup: Lease = { ...peer(2, '192.0.2.77'), ipv6Subnet: IPNet.parse('fd00::/64') };
    t.leases.snapshot(peer(2), peer(5, '192.0.2.99'), dup);
    await settle();
    expect(t.engine.stats()).toMatchObject({ peers: 1, skippedPeers: 2 });
    const problems = t.logger.entries.filter((e) => e.msg === 'skipping peer').map((e) => (e.obj as { problems: string[] }).problems[0]);
    expect(problems).toEqual(['PublicIP 192.0.2.99 is refused', '10.244.2.0/24 is already the subnet of peer 10.244.2.0/24 -']);
    expect(t.routes()).toEqual(['10.244.2.0/24 via 192.0.2.2']);
    t.stop.abort();
    await t.running;
  });

  it('resyncs everything after the netlink monitor lost events', async () => {
    const t = setup();
    t.leases.snapshot(peer(2));
    await t.clock.advance(DEFAULT_TIMING.minGapMs);
    const before = t.dataplane.devicesChecked;
    t.nl.overflowMonitor();
    await t.clock.advance(DEFAULT_TIMING.minGapMs);
    expect(t.dataplane.devicesChecked).toBe(before + 1);
    expect(t.logger.messages('warn')).toContain('netlink monitor lost events; resyncing');
    t.stop.abort();
    await t.running;
  });

  it('rejects when the lease stream fails, so the daemon does not look healthy with a dead watch', async () => {
    const t = setup();
    t.leases.fail(new Error('etcd went away'));
    await expect(t.running).rejects.toThrow('lease watch failed: etcd went away');
  });

  it('stops promptly on abort, with nothing left waiting on the clock', async () => {
    const t = setup();
    t.leases.snapshot(peer(2));
    await settle();
    t.stop.abort();
    await t.running;
    expect(t.clock.waiting).toBe(0);
  });

  it('refuses peer leases that would reroute what is not theirs, naming the rule', async () => {
    const t = setup(loadNetConfig('{"Network":"10.244.0.0/16","SubnetLen":24}'));
    const lease = (subnet: string, ip: string): Lease => ({ subnet: IPNet.parse(subnet), attrs: { publicIP: IP.parse(ip), backendType: 'test' } });
    t.leases.snapshot(
      peer(2),
      lease('192.0.2.0/24', '192.0.2.20'), // the underlay
      lease('10.244.0.0/16', '192.0.2.21'), // the whole network
      lease('10.244.1.128/25', '192.0.2.22'), // inside our subnet, and the wrong length
      lease('10.244.1.0/24', '192.0.2.23'), // our subnet (never even reaches the engine: the watcher drops our own key)
      lease('10.244.9.0/24', '192.0.2.1'), // our PublicIP
      lease('10.244.2.7/32', '192.0.2.24'), // a host inside peer 2's subnet
      lease('10.244.3.9/32', '192.0.2.25'), // a host subnet on its own: allowed
    );
    await settle();
    const refused = Object.fromEntries(
      t.logger.entries
        .filter((e) => e.msg === 'skipping peer')
        .map((e) => [(e.obj as { subnet: string }).subnet, (e.obj as { problems: string[] }).problems.join('; ')]),
    );
    expect(refused).toEqual({
      '192.0.2.0/24': '192.0.2.0/24 is outside the network 10.244.0.0/16',
      '10.244.0.0/16': '10.244.0.0/16 is a /16, but node subnets are /24',
      '10.244.1.128/25': '10.244.1.128/25 is a /25, but node subnets are /24',
      '10.244.9.0/24': 'it claims our PublicIP 192.0.2.1',
      '10.244.2.7/32': '10.244.2.7/32 lies inside the subnet 10.244.2.0/24 of peer 10.244.2.0/24 -',
    });
    expect(t.routes()).toEqual(['10.244.2.0/24 via 192.0.2.2', '10.244.3.9/32 via 192.0.2.25']);
    expect(t.engine.stats()).toMatchObject({ peers: 2, skippedPeers: 5 });
    t.stop.abort();
    await t.running;
  });

  it('reports events, passes, repairs by kind, netlink errors by errno and the lease-to-kernel time to its observer', async () => {
    const t = setup();
    t.leases.snapshot(own, peer(2), peer(3));
    await t.clock.advance(DEFAULT_TIMING.minGapMs); // the snapshot's pass compared with the kernel: no full sync follows
    expect(t.observer.events).toEqual({ added: 2, snapshot: 1 });
    expect(t.observer.passes).toEqual(['events:ok']);
    expect(t.observer.latencies).toHaveLength(2);
    for (const s of t.observer.latencies) expect(s).toBeGreaterThanOrEqual(0);
    expect(t.observer.ops).toBe(2);
    await t.nl.routeDel({ dst: IPNet.parse('10.244.2.0/24') });
    await t.clock.advance(DEFAULT_TIMING.minGapMs + DEFAULT_TIMING.settleMs);
    expect(t.observer.repairs).toEqual({ route: 1 });
    t.nl.failNext(/10\.244\.4\.0/, 16 /* EBUSY */);
    t.leases.added(peer(4));
    t.leases.removed(peer(3));
    await settle();
    expect(t.observer.events).toEqual({ added: 3, removed: 1, snapshot: 1 });
    expect(t.observer.errors).toEqual({ EBUSY: 1 });
    expect(t.observer.passes.at(-1)).toBe('events:failed');
    expect(t.observer.started).toEqual(t.observer.passes.map((p) => p.split(':')[0]));
    t.stop.abort();
    await t.running;
  });

  it('has a peer table that says what is programmed and what is skipped, and when the first full sync is done', async () => {
    const t = setup();
    expect(t.engine.status()).toMatchObject({ synced: false, peers: [] });
    await t.clock.advance(DEFAULT_TIMING.resyncMs); // a periodic resync before any lease: not a full sync
    expect(t.engine.status().synced).toBe(false);
    t.leases.snapshot(peer(2), peer(5, '192.0.2.99'));
    await t.clock.advance(DEFAULT_TIMING.minGapMs);
    const status = t.engine.status();
    expect(status.synced).toBe(true);
    expect(status.peers.sort((a, b) => a.subnet!.localeCompare(b.subnet!))).toEqual([
      { subnet: '10.244.2.0/24', publicIP: '192.0.2.2', backendType: 'test', state: 'programmed', problems: [], entries: 1 },
      { subnet: '10.244.5.0/24', publicIP: '192.0.2.99', backendType: 'test', state: 'skipped', problems: ['PublicIP 192.0.2.99 is refused'], entries: 0 },
    ]);
    expect(status.lastPass).toMatchObject({ kind: 'events', operations: 1, failed: 0 });
    t.stop.abort();
    await t.running;
  });

  it('gives the event loop turns during a resync of thousands of entries, and during their lease events', async () => {
    const t = setup();
    // A ticker counts event-loop turns; the dataplane and the observer note the count when a resync starts and ends.
    let turns = 0;
    let ticking = true;
    const tick = () => {
      if (!ticking) return;
      turns++;
      setImmediate(tick);
    };
    setImmediate(tick);
    const during: Record<string, { from: number; to?: number }> = {};
    const readKernel = t.dataplane.readKernel.bind(t.dataplane);
    t.dataplane.readKernel = () => ((during.resync = { from: turns }), readKernel());
    const { reconcilePass } = t.observer;
    t.observer.reconcilePass = (kind, ok) => {
      if (during[kind]) during[kind].to = turns;
      reconcilePass.call(t.observer, kind, ok);
    };
    const n = 5000;
    const peers = Array.from({ length: n }, (_, i) => ({
      subnet: IPNet.parse(`10.${100 + (i >> 8)}.${i & 255}.0/24`),
      attrs: { publicIP: IP.parse(`198.18.${i >> 8}.${i & 255}`), backendType: 'test' },
    }));
    during.events = { from: turns };
    t.leases.snapshot(...peers);
    for (let i = 0; i < 1000 && t.observer.passes.length === 0; i++) await settle(1);
    expect(t.routes()).toHaveLength(n);
    await t.clock.advance(DEFAULT_TIMING.resyncMs); // the periodic resync: 5,000 routes compared, nothing to do
    ticking = false;
    expect(t.observer.passes).toEqual(['events:ok', 'resync:ok']);
    // Each pass goes over n entries twice (kernel side, wanted side; or the diff, then the requests), and
    // yields every ENTRIES_PER_SLICE entries of each.
    const slices = Math.floor(n / ENTRIES_PER_SLICE);
    expect(during.resync!.to! - during.resync!.from).toBeGreaterThanOrEqual(2 * slices - 1);
    expect(during.events!.to! - during.events!.from).toBeGreaterThanOrEqual(2 * slices - 1);
    t.stop.abort();
    await t.running;
  });

  it('stops a resync for lease events that arrive during it, applies them, then resyncs; a steady stream cannot hold it off', async () => {
    const t = setup();
    const peers = Array.from({ length: 2500 }, (_, i) => ({
      subnet: IPNet.parse(`10.${100 + (i >> 8)}.${i & 255}.0/24`),
      attrs: { publicIP: IP.parse(`198.18.${i >> 8}.${i & 255}`), backendType: 'test' },
    }));
    // Slices of thousands of entries take turns of the event loop, and resyncs are spaced on the clock.
    const until = async (passes: number) => {
      for (let i = 0; i < 500 && t.observer.passes.length < passes; i++) {
        await settle(1);
        await t.clock.advance(DEFAULT_TIMING.minGapMs);
      }
    };
    t.leases.snapshot(own, ...peers);
    await until(2); // events, then the periodic resync
    expect(t.observer.passes).toEqual(['events:ok', 'resync:ok']);
    // From now on each kernel read (one per resync) is followed by a new lease, as a busy store would send.
    let next = 2;
    const readKernel = t.dataplane.readKernel.bind(t.dataplane);
    t.dataplane.readKernel = async () => {
      const entries = await readKernel();
      t.leases.added(peer(next++));
      return entries;
    };
    t.observer.started.length = 0;
    t.observer.passes.length = 0;
    await t.clock.advance(DEFAULT_TIMING.resyncMs);
    await until(4);
    // Three resyncs gave way to the lease that came in during each; the fourth ran to the end regardless.
    expect(t.observer.started.slice(0, 8)).toEqual(['resync', 'events', 'resync', 'events', 'resync', 'events', 'resync', 'events']);
    expect(t.observer.passes.slice(0, 4)).toEqual(['events:ok', 'events:ok', 'events:ok', 'resync:ok']);
    expect(t.routes()).toContain('10.244.5.0/24 via 192.0.2.5');
    t.stop.abort();
    await t.running;
  });

  it('takes a store result of thousands of events a slice at a time, and keeps later results behind it in order', async () => {
    const t = setup();
    t.leases.snapshot(peer(2));
    await settle();
    const many = Array.from({ length: 3 * EVENTS_PER_SLICE }, (_, i) => ({
      subnet: IPNet.parse(`10.${100 + (i >> 8)}.${i & 255}.0/24`),
      attrs: { publicIP: IP.parse(`198.18.${i >> 8}.${i & 255}`), backendType: 'test' },
    }));
    const last = many[many.length - 1]!;
    t.leases.added(...many);
    // Arrives while the big result waits for the loop: applied after it, so the peer ends up removed.
    t.leases.removed(last);
    t.leases.removed(peer(2));
    for (let i = 0; i < 1000 && t.routes().length !== many.length - 1; i++) await settle(1);
    expect(t.routes()).toHaveLength(many.length - 1);
    expect(t.routes()).not.toContain(`${last.subnet} via ${last.attrs.publicIP}`);
    expect(t.routes()).not.toContain('10.244.2.0/24 via 192.0.2.2');
    expect(t.observer.events).toEqual({ snapshot: 1, added: 1 + many.length, removed: 2 });
    t.stop.abort();
    await t.running;
  });

  it('diffs the kernel against the leases without writing: missing, stale and different entries', async () => {
    const t = setup();
    t.leases.snapshot(peer(2), peer(3));
    await t.clock.advance(DEFAULT_TIMING.minGapMs);
    expect(await t.engine.diff()).toEqual({ missing: [], stale: [], different: [] });
    t.stop.abort(); // no repairs from here on
    await t.running;
    await t.nl.routeDel({ dst: IPNet.parse('10.244.2.0/24') });
    await t.kernelRoute('10.244.3.0/24', '192.0.2.33');
    await t.kernelRoute('10.244.9.0/24', '192.0.2.9');
    const ops = t.nl.ops.length;
    expect(await t.engine.diff()).toEqual({
      missing: [{ kind: 'route', key: 'route 254 10.244.2.0/24', want: 'via 192.0.2.2 dev 2', peer: '10.244.2.0/24 -' }],
      stale: [{ kind: 'route', key: 'route 254 10.244.9.0/24', have: 'via 192.0.2.9 dev 2' }],
      different: [{ kind: 'route', key: 'route 254 10.244.3.0/24', want: 'via 192.0.2.3 dev 2', have: 'via 192.0.2.33 dev 2', peer: '10.244.3.0/24 -' }],
    });
    expect(t.nl.ops.length).toBe(ops);
  });
});

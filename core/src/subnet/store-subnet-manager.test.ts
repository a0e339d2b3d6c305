import { firstValueFrom, Subject, take, toArray } from 'rxjs';
import type { LeaseWatchResult } from '../contracts/lease.js';
import { IP } from '../ip/ip.js';
import { IPNet } from '../ip/ipnet.js';
import { LeaseRevokedError } from '../contracts/subnet-manager.js';
import { InMemoryLeaseRegistry } from '../testing/in-memory-registry.js';
import { RecordingLogger } from '../testing/recording-logger.js';
import { freeSubnets } from './allocate.js';
import type { RegistryUpdate } from './registry.js';
import { StoreSubnetManager, type StoreSubnetManagerOptions } from './store-subnet-manager.js';

const CONFIG = '{"Network":"10.5.0.0/16","Backend":{"Type":"vxlan"}}';
const attrs = (ip: string) => ({ publicIP: IP.parse(ip), backendType: 'vxlan' });
const value = (ip: string) => `{"PublicIP":"${ip}","PublicIPv6":null}`;

/** Counts turns of the event loop (one immediate each) from now until stop(). */
function countTurns(): { readonly turns: number; stop(): void } {
  let turns = 0;
  let ticking = true;
  const tick = () => {
    turns++;
    if (ticking) setImmediate(tick);
  };
  setImmediate(tick);
  return {
    get turns() {
      return turns;
    },
    stop: () => (ticking = false),
  };
}

function setup(config = CONFIG, options: Partial<StoreSubnetManagerOptions> = {}) {
  const registry = new InMemoryLeaseRegistry(config);
  const logger = new RecordingLogger();
  const sm = new StoreSubnetManager(registry, logger, { renewMarginMinutes: 60, ...options });
  return { registry, logger, sm, signal: new AbortController().signal };
}

describe('freeSubnets', () => {
  it('skips taken subnets, including larger ones that overlap', () => {
    const taken = [IPNet.parse('10.5.1.0/24'), IPNet.parse('10.5.4.0/23')];
    const free = freeSubnets(IP.parse('10.5.1.0'), IP.parse('10.5.7.0'), 24, taken).map(String);
    expect(free).toEqual(['10.5.2.0/24', '10.5.3.0/24', '10.5.6.0/24', '10.5.7.0/24']);
  });

  it('stops at 100 candidates', () => {
    expect(freeSubnets(IP.parse('10.0.1.0'), IP.parse('10.255.255.0'), 24, [])).toHaveLength(100);
  });
});

describe('StoreSubnetManager.getNetworkConfig', () => {
  it('parses a config text once, warns once about its unknown fields, and again when the text changes', async () => {
    const { registry, logger, sm, signal } = setup('{"Network":"10.5.0.0/16","Padding":1,"Backend":{"Type":"vxlan"}}');
    const first = await sm.getNetworkConfig(signal);
    first.subnetLen = 99; // a caller's change to a top-level field must not reach the next caller
    const second = await sm.getNetworkConfig(signal);
    expect(second.subnetLen).toBe(24);
    expect(String(second.network)).toBe('10.5.0.0/16');
    expect(logger.messages('warn').filter((m) => m === 'unknown field in the network config, ignored')).toHaveLength(1);
    registry.configText = '{"Network":"10.6.0.0/16","Padding":2,"Backend":{"Type":"vxlan"}}';
    expect(String((await sm.getNetworkConfig(signal)).network)).toBe('10.6.0.0/16');
    expect(logger.messages('warn').filter((m) => m === 'unknown field in the network config, ignored')).toHaveLength(2);
  });

  it('answers a config that fails validation with its error each time, and warns about its misspelt field once', async () => {
    const { logger, sm, signal } = setup('{"Netwrok":"10.5.0.0/16","Backend":{"Type":"vxlan"}}');
    await expect(sm.getNetworkConfig(signal)).rejects.toThrow(/Network/);
    await expect(sm.getNetworkConfig(signal)).rejects.toThrow(/Network/);
    expect(logger.messages('warn').filter((m) => m === 'unknown field in the network config, ignored')).toHaveLength(1);
  });
});

describe('StoreSubnetManager.acquireLease', () => {
  it('creates a key with the attrs JSON and a 24 h TTL', async () => {
    const { registry, sm, signal } = setup();
    const lease = await sm.acquireLease(attrs('192.0.2.1'), signal);
    const key = `${lease.subnet!.ip}-24`;
    expect(registry.entries.get(key)?.value).toBe('{"PublicIP":"192.0.2.1","PublicIPv6":null,"BackendType":"vxlan"}');
    expect(lease.expiration!.getTime() - Date.now()).toBeGreaterThan(86_390_000);
    expect(sm.name).toBe('In-memory registry with Previous Subnet: None');
  });

  it('reuses the lease that carries our public IP and rewrites its attrs', async () => {
    const { registry, sm, signal } = setup();
    registry.put('10.5.77.0-24', value('192.0.2.1'), 100);
    const lease = await sm.acquireLease(attrs('192.0.2.1'), signal);
    expect(String(lease.subnet)).toBe('10.5.77.0/24');
    expect(registry.entries.get('10.5.77.0-24')?.value).toContain('"BackendType":"vxlan"');
  });

  it('keeps a reservation with our public IP a reservation', async () => {
    const { registry, sm, signal } = setup();
    registry.put('10.5.9.0-24', value('192.0.2.1'), 0);
    const lease = await sm.acquireLease(attrs('192.0.2.1'), signal);
    expect(String(lease.subnet)).toBe('10.5.9.0/24');
    expect(lease.expiration).toBeUndefined();
    expect(registry.entries.get('10.5.9.0-24')?.reservation).toBe(true);
  });

  it("never hands out another node's reservation", async () => {
    const { registry, signal } = setup('{"Network":"10.5.0.0/28","SubnetLen":30,"Backend":{"Type":"vxlan"}}');
    registry.put('10.5.0.4-30', value('192.0.2.50'), 0);
    registry.put('10.5.0.8-30', value('192.0.2.51'), 0);
    const logger = new RecordingLogger();
    const sm = new StoreSubnetManager(registry, logger, { renewMarginMinutes: 60 });
    expect(String((await sm.acquireLease(attrs('192.0.2.1'), signal)).subnet)).toBe('10.5.0.12/30');
    await expect(sm.acquireLease(attrs('192.0.2.2'), signal)).rejects.toThrow(/out of subnets.*10\.5\.0\.0\/28/);
  });

  it('replaces an incompatible lease of ours', async () => {
    const { registry, sm, signal } = setup();
    registry.put('10.5.0.0-24', value('192.0.2.1'), 100); // below SubnetMin
    const lease = await sm.acquireLease(attrs('192.0.2.1'), signal);
    expect(String(lease.subnet)).not.toBe('10.5.0.0/24');
    expect(registry.entries.has('10.5.0.0-24')).toBe(false);
  });

  it('with two leases carrying our public IP, keeps the one of our previous subnet and deletes the stray one', async () => {
    const { registry, sm, logger, signal } = setup(CONFIG, { previousSubnet: IPNet.parse('10.5.60.0/24') });
    registry.put('10.5.20.0-24', value('192.0.2.1'), 100); // listed first: a stray copy
    registry.put('10.5.60.0-24', value('192.0.2.1'), 100);
    expect(String((await sm.lookupLease(attrs('192.0.2.1'), signal))?.subnet)).toBe('10.5.60.0/24');
    const lease = await sm.acquireLease(attrs('192.0.2.1'), signal);
    expect(String(lease.subnet)).toBe('10.5.60.0/24');
    expect([...registry.entries.keys()]).toEqual(['10.5.60.0-24']);
    expect(logger.messages('warn')).toContain('another lease carries our public IP; deleting it');
  });

  it('takes the previous subnet when it is free, and not when it is held', async () => {
    const prev = IPNet.parse('10.5.42.0/24');
    const a = setup(CONFIG, { previousSubnet: prev });
    expect(String((await a.sm.acquireLease(attrs('192.0.2.1'), a.signal)).subnet)).toBe('10.5.42.0/24');
    expect(a.sm.name).toBe('In-memory registry with Previous Subnet: 10.5.42.0/24');
    const b = setup(CONFIG, { previousSubnet: prev });
    b.registry.put('10.5.42.0-24', value('192.0.2.9'), 100);
    expect(String((await b.sm.acquireLease(attrs('192.0.2.1'), b.signal)).subnet)).not.toBe('10.5.42.0/24');
  });

  it('retries a lost create race with another subnet instead of failing, as Go does', async () => {
    const prev = IPNet.parse('10.5.42.0/24');
    const { registry, sm, logger, signal } = setup(CONFIG, { previousSubnet: prev });
    registry.loseRaceFor.add('10.5.42.0-24');
    const lease = await sm.acquireLease(attrs('192.0.2.1'), signal);
    expect(String(lease.subnet)).not.toBe('10.5.42.0/24');
    expect(logger.messages()).toContain('another node took the subnet first; trying another one');
  });

  it('counts the subnet of a malformed lease as taken', async () => {
    const { registry, sm, logger, signal } = setup('{"Network":"10.5.0.0/28","SubnetLen":30,"Backend":{"Type":"vxlan"}}');
    registry.put('10.5.0.4-30', 'garbage', 100);
    registry.put('10.5.0.8-30', '{"PublicIP":7}', 100);
    expect(String((await sm.acquireLease(attrs('192.0.2.1'), signal)).subnet)).toBe('10.5.0.12/30');
    // Values that cannot be ours are not even parsed here; the lease watch reports them.
    expect(logger.messages('warn')).toEqual([]);
  });

  it('allocates an IPv6 subnet too in dual stack', async () => {
    const { sm, signal } = setup('{"Network":"10.5.0.0/16","EnableIPv6":true,"IPv6Network":"fd00:5::/56","Backend":{"Type":"vxlan"}}');
    const lease = await sm.acquireLease({ ...attrs('192.0.2.1'), publicIPv6: IP.parse('2001:db8::1') }, signal);
    expect(lease.ipv6Subnet?.prefixLen).toBe(64);
    expect(IPNet.parse('fd00:5::/56').contains(lease.ipv6Subnet!.ip)).toBe(true);
  });
});

describe('StoreSubnetManager.watchLeases', () => {
  it('sends a snapshot, then puts as added and deletes as removed; garbage is skipped', async () => {
    const { registry, sm, logger } = setup();
    registry.put('10.5.3.0-24', value('192.0.2.3'), 100);
    const results = firstValueFrom(sm.watchLeases().pipe(take(3), toArray()));
    await new Promise((r) => setImmediate(r));
    registry.put('10.5.4.0-24', 'not json', 100);
    registry.put('10.5.5.0-24', value('192.0.2.5'), 100);
    await registry.delete('10.5.3.0-24');
    const [snap, added, removed] = await results;
    expect(snap).toMatchObject({ kind: 'snapshot', snapshot: [{ attrs: { publicIP: IP.parse('192.0.2.3') } }] });
    expect(added).toMatchObject({ kind: 'events', events: [{ type: 'added', lease: { subnet: IPNet.parse('10.5.5.0/24') } }] });
    expect(removed).toMatchObject({ kind: 'events', events: [{ type: 'removed', lease: { subnet: IPNet.parse('10.5.3.0/24'), attrs: {} } }] });
    expect(logger.entries.some((e) => (e.obj as { key?: string }).key === '10.5.4.0-24')).toBe(true);
  });
});

describe('StoreSubnetManager.watchLeases with a big update', () => {
  it('reads an update of thousands of changes a slice at a time, with event-loop turns between, and keeps later updates behind it', async () => {
    const { registry, sm } = setup();
    const updates = new Subject<RegistryUpdate>();
    registry.watch = () => updates;
    const results: LeaseWatchResult[] = [];
    const loop = countTurns();
    const turnsAt: number[] = [];
    const sub = sm.watchLeases().subscribe((r) => {
      results.push(r);
      turnsAt.push(loop.turns);
    });
    await new Promise((r) => setImmediate(r));
    const n = 2000;
    const key = (i: number) => `10.5.${i >> 8}.${(i & 255) >> 0}-32`;
    // One update of n deletions (as etcd sends a revoked lease's keys), then a small one.
    updates.next({ kind: 'changes', changes: Array.from({ length: n }, (_, i) => ({ type: 'delete', key: key(i), revision: 7 })), revision: 7 });
    updates.next({
      kind: 'changes',
      changes: [{ type: 'put', entry: { key: '10.5.200.0-24', value: value('192.0.2.9'), reservation: false, revision: 8 } }],
      revision: 8,
    });
    const sawPut = () => results.some((r) => r.kind === 'events' && r.events.some((e) => e.type === 'added'));
    for (let i = 0; i < 100 && !sawPut(); i++) await new Promise((r) => setImmediate(r));
    loop.stop();
    sub.unsubscribe();
    const [, ...changes] = results;
    const removed = changes.flatMap((r) => (r.kind === 'events' ? r.events.filter((e) => e.type === 'removed') : []));
    expect(removed.map((e) => String(e.lease.subnet))).toEqual(Array.from({ length: n }, (_, i) => key(i).replace('-', '/')));
    expect(changes.length).toBeGreaterThan(2);
    // The small update comes last, after every slice of the big one.
    expect(changes[changes.length - 1]).toMatchObject({ kind: 'events', events: [{ type: 'added', lease: { subnet: IPNet.parse('10.5.200.0/24') } }] });
    // Slices of the big update arrived in different turns of the event loop.
    expect(new Set(turnsAt.slice(1, -1)).size).toBe(changes.length - 1);
  });
});

describe('StoreSubnetManager.watchLeases with many small updates in one turn', () => {
  it('reads no more than a slice of changes per turn of the event loop, in order', async () => {
    const { registry, sm } = setup();
    const updates = new Subject<RegistryUpdate>();
    registry.watch = () => updates;
    const subnets: string[] = [];
    const turnOf: number[] = [];
    const loop = countTurns();
    const sub = sm.watchLeases().subscribe((r) => {
      if (r.kind !== 'events') return;
      for (const e of r.events) subnets.push(String(e.lease.subnet));
      turnOf.push(loop.turns);
    });
    await new Promise((r) => setImmediate(r));
    // 40 updates of 100 puts, all in one turn: what one network read of etcd transactions delivers.
    const key = (i: number) => `10.5.${i >> 8}.${i & 255}-32`;
    for (let u = 0; u < 40; u++) {
      const changes = Array.from({ length: 100 }, (_, j) => u * 100 + j).map((i) => ({
        type: 'put' as const,
        entry: { key: key(i), value: value('192.0.2.9'), reservation: false, revision: u + 2 },
      }));
      updates.next({ kind: 'changes', changes, revision: u + 2 });
    }
    for (let i = 0; i < 200 && subnets.length < 4000; i++) await new Promise((r) => setImmediate(r));
    loop.stop();
    sub.unsubscribe();
    expect(subnets).toEqual(Array.from({ length: 4000 }, (_, i) => key(i).replace('-', '/')));
    // At most two updates of 100 fit a turn's 250 changes: 40 updates take at least 20 turns.
    expect(new Set(turnOf).size).toBeGreaterThanOrEqual(20);
  });
});

describe('StoreSubnetManager.completeLease', () => {
  it('renews before expiry and rejects when the lease is revoked', async () => {
    const { registry, sm, signal } = setup();
    const lease = await sm.acquireLease(attrs('192.0.2.1'), signal);
    // With a margin as long as the lease, the renewer renews at once.
    const renewing = new StoreSubnetManager(registry, new RecordingLogger(), { renewMarginMinutes: 24 * 60 + 1 });
    const done = renewing.completeLease(lease, signal);
    const key = `${lease.subnet!.ip}-24`;
    const before = registry.entries.get(key)!.revision;
    await new Promise((r) => setTimeout(r, 20));
    expect(registry.entries.get(key)!.revision).toBeGreaterThan(before);
    await registry.delete(key);
    await expect(done).rejects.toBeInstanceOf(LeaseRevokedError);
  });

  const until = async (cond: () => boolean) => {
    for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setImmediate(r));
    return cond();
  };

  it('writes our lease back after the store lost it (wiped, or restored to an older state)', async () => {
    const { registry, sm, logger } = setup();
    const ac = new AbortController();
    const lease = await sm.acquireLease(attrs('192.0.2.1'), ac.signal);
    const key = `${lease.subnet!.ip}-24`;
    const done = sm.completeLease(lease, ac.signal);
    registry.restore([]);
    expect(await until(() => registry.entries.has(key))).toBe(true);
    expect(registry.entries.get(key)!.value).toContain('"PublicIP":"192.0.2.1"');
    expect(logger.messages('warn')).toContain('our lease had vanished from the store (wiped or restored?); wrote it back');
    ac.abort();
    await expect(done).resolves.toBeUndefined();
  });

  it('restores our lease when someone rewrites it with our address, and gives the subnet up when another node holds it', async () => {
    const { registry, sm, logger } = setup();
    const ac = new AbortController();
    const lease = await sm.acquireLease(attrs('192.0.2.1'), ac.signal);
    const key = `${lease.subnet!.ip}-24`;
    const done = sm.completeLease(lease, ac.signal);
    registry.put(key, '{"PublicIP":"192.0.2.1","BackendType":"host-gw"}', 100);
    expect(await until(() => registry.entries.get(key)!.value.includes('"BackendType":"vxlan"'))).toBe(true);
    expect(logger.messages('warn')).toContain('our lease was rewritten by someone else; restored it');
    registry.put(key, value('192.0.2.77'), 100);
    await expect(done).rejects.toBeInstanceOf(LeaseRevokedError);
    expect(registry.entries.get(key)!.value).toBe(value('192.0.2.77')); // the other node's lease is left alone
  });

  it('renews by compare-and-swap: a renewal never takes the key from another node', async () => {
    const { registry, sm, signal } = setup();
    const lease = await sm.acquireLease(attrs('192.0.2.1'), signal);
    const key = `${lease.subnet!.ip}-24`;
    registry.put(key, value('192.0.2.77'), 100);
    await expect(sm.renewLease(lease, signal)).rejects.toBeInstanceOf(LeaseRevokedError);
    expect(registry.entries.get(key)!.value).toBe(value('192.0.2.77'));
  });

  it('resolves when the signal aborts', async () => {
    const { sm } = setup();
    const ac = new AbortController();
    const lease = await sm.acquireLease(attrs('192.0.2.1'), ac.signal);
    const done = sm.completeLease(lease, ac.signal);
    ac.abort();
    await expect(done).resolves.toBeUndefined();
  });
});

describe('StoreSubnetManager startup listing', () => {
  it('serves lookup, acquisition and the first watch snapshot from one listing, missing nothing written since', async () => {
    const { registry, sm, signal } = setup();
    registry.put('10.5.3.0-24', value('192.0.2.3'), 100);
    let lists = 0;
    const list = registry.list.bind(registry);
    registry.list = async () => (lists++, list());
    await sm.lookupLease(attrs('192.0.2.1'), signal);
    const lease = await sm.acquireLease(attrs('192.0.2.1'), signal);
    registry.put('10.5.4.0-24', value('192.0.2.4'), 100); // after the listing
    const [snap, ...rest] = await firstValueFrom(sm.watchLeases().pipe(take(3), toArray()));
    expect(lists).toBe(1);
    expect(snap).toMatchObject({ kind: 'snapshot', snapshot: [{ subnet: IPNet.parse('10.5.3.0/24') }] });
    const replayed = rest.flatMap((r) => (r.kind === 'events' ? r.events.map((e) => String(e.lease.subnet)) : []));
    expect(replayed).toEqual([String(lease.subnet), '10.5.4.0/24']);
  });
});

describe('StoreSubnetManager reading a big listing', () => {
  it('parses its keys once for lookup, acquisition and the first snapshot, a slice per turn of the event loop', async () => {
    const { registry, sm, signal, logger } = setup('{"Network":"10.0.0.0/8","SubnetLen":24,"Backend":{"Type":"vxlan"}}');
    const n = 2000;
    const subnet = (i: number) => `10.${100 + (i >> 8)}.${i & 255}.0`;
    for (let i = 0; i < n; i++) registry.put(`${subnet(i)}-24`, value(`198.18.${i >> 8}.${i & 255}`), 100);
    registry.put('not-a-subnet', value('198.19.0.1'), 100);
    const loop = countTurns();
    try {
      const before = loop.turns;
      expect(await sm.lookupLease(attrs('192.0.2.1'), signal)).toBeUndefined();
      // 2,000 keys at 250 a turn.
      expect(loop.turns - before).toBeGreaterThanOrEqual(n / 250 - 1);
      await sm.acquireLease(attrs('192.0.2.1'), signal);
      const atWatch = loop.turns;
      const first = await firstValueFrom(sm.watchLeases());
      expect(loop.turns - atWatch).toBeGreaterThanOrEqual(n / 250 - 1);
      expect(first.kind === 'snapshot' && first.snapshot.map((l) => String(l.subnet))).toEqual(Array.from({ length: n }, (_, i) => `${subnet(i)}/24`));
    } finally {
      loop.stop();
    }
    // One listing, its keys parsed once: the key that is not a subnet key is reported once, not three times.
    expect(logger.entries.filter((e) => e.msg === 'ignoring a store key that is not a subnet key')).toHaveLength(1);
  });
});

describe('StoreSubnetManager reading values', () => {
  it('warns once about a malformed value, even one that names our address, across lookup, acquisition and snapshot', async () => {
    const { registry, sm, signal, logger } = setup();
    registry.put('10.5.3.0-24', '{"PublicIP":"192.0.2.1",', 100);
    registry.put('10.5.4.0-24', value('192.0.2.4'), 100);
    await sm.lookupLease(attrs('192.0.2.1'), signal);
    const lease = await sm.acquireLease(attrs('192.0.2.1'), signal);
    // The malformed key's subnet still counts as taken.
    expect(['10.5.3.0/24', '10.5.4.0/24']).not.toContain(String(lease.subnet));
    const first = await firstValueFrom(sm.watchLeases());
    expect(first.kind === 'snapshot' && first.snapshot.map((l) => String(l.subnet))).toEqual(['10.5.4.0/24']);
    expect(logger.entries.filter((e) => e.msg === 'skipping a peer lease with malformed attributes')).toHaveLength(1);
  });
});

describe('StoreSubnetManager.watchLeases after the store is replaced', () => {
  it('reads the new listing in slices, as a snapshot, ahead of the changes that follow it', async () => {
    const { registry, sm } = setup('{"Network":"10.0.0.0/8","SubnetLen":24,"Backend":{"Type":"vxlan"}}');
    const results: LeaseWatchResult[] = [];
    const sub = sm.watchLeases().subscribe((r) => results.push(r));
    await new Promise((r) => setImmediate(r));
    const n = 1000;
    const entry = (i: number) => ({
      key: `10.${100 + (i >> 8)}.${i & 255}.0-24`,
      value: value(`198.18.${i >> 8}.${i & 255}`),
      reservation: false,
      revision: 9,
    });
    const loop = countTurns();
    registry.restore(Array.from({ length: n }, (_, i) => entry(i)));
    registry.put('10.99.0.0-24', value('198.19.0.1'), 100);
    for (let i = 0; i < 100 && results.length < 3; i++) await new Promise((r) => setImmediate(r));
    loop.stop();
    sub.unsubscribe();
    const [, reset, put] = results;
    expect(reset?.kind === 'snapshot' && reset.snapshot.map((l) => String(l.subnet))).toEqual(
      Array.from({ length: n }, (_, i) => entry(i).key.replace('-', '/')),
    );
    expect(put).toMatchObject({ kind: 'events', events: [{ type: 'added', lease: { subnet: IPNet.parse('10.99.0.0/24') } }] });
    // 1,000 keys and then their values, 250 a turn.
    expect(loop.turns).toBeGreaterThanOrEqual((2 * n) / 250 - 1);
  });
});

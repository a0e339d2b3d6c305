import { jest } from '@jest/globals';
import { firstValueFrom, take, toArray } from 'rxjs';
import { Etcd3 } from 'etcd3';
import { IP, IPNet, LeaseRevokedError, type LeaseWatchResult } from '@flannel-ts/core';
import { StoreSubnetManager } from '@flannel-ts/core/internal';
import { EtcdRegistry, LIST_PAGE_SIZE, etcdClientOptions } from '@flannel-ts/core/internal/etcd';
import { RecordingLogger } from '@flannel-ts/core/testing';
import { startEtcd, type EtcdServer } from '../harness/etcd.js';
import { stopAllProcesses } from '../harness/processes.js';
import { DEADLINE, waitFor } from '../harness/wait.js';

jest.setTimeout(DEADLINE.testMs);

const PREFIX = '/coreos.com/network';
const CONFIG = '{"Network":"10.5.0.0/16","Backend":{"Type":"vxlan"}}';
let etcd: EtcdServer;
let client: Etcd3;
const registries: EtcdRegistry[] = [];

function manager(opts: { prefix?: string; renewMarginMinutes?: number; previous?: string } = {}) {
  const logger = new RecordingLogger();
  const registry = new EtcdRegistry(etcdClientOptions({ endpoints: etcd.endpoint, prefix: opts.prefix ?? PREFIX }, logger), opts.prefix ?? PREFIX, logger);
  registries.push(registry);
  const sm = new StoreSubnetManager(registry, logger, {
    renewMarginMinutes: opts.renewMarginMinutes ?? 60,
    ...(opts.previous ? { previousSubnet: IPNet.parse(opts.previous) } : {}),
  });
  return { sm, logger, registry };
}
const attrs = (ip: string) => ({ publicIP: IP.parse(ip), backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: '0a:00:00:00:00:01' } });
const signal = () => AbortSignal.timeout(DEADLINE.convergeMs);
/** Waits until the registry has logged `msg`: its watch says (at debug level) when etcd acknowledged it. */
const logged = (logger: RecordingLogger, msg: string) => waitFor(() => logger.messages().includes(msg), DEADLINE.readyMs);
const WATCH_ACK = 'etcd watch connected';

beforeAll(async () => {
  etcd = await startEtcd();
  client = new Etcd3({ hosts: etcd.endpoint });
}, DEADLINE.setupMs);

afterAll(async () => {
  await Promise.all(registries.map((r) => r.close()));
  client?.close();
  await etcd?.destroy();
  await stopAllProcesses();
});

beforeEach(async () => {
  // A test that failed half-way through a restart must not leave the next one without etcd.
  if (etcd.pid() === -1) await etcd.start();
  await client.delete().all();
  await client.put(`${PREFIX}/config`).value(CONFIG);
});

describe('etcd subnet manager against a real etcd', () => {
  it('explains a missing config and how to write one', async () => {
    const { sm } = manager({ prefix: '/nothing/here' });
    await expect(sm.getNetworkConfig(signal())).rejects.toThrow(
      '/nothing/here/config: flannel config not found in etcd store. Did you create your config using etcdv3 API?; write it with: etcdctl put /nothing/here/config',
    );
  });

  it('writes the lease where and how Go flannel does, on a 24 h etcd lease', async () => {
    const { sm } = manager();
    const lease = await sm.acquireLease(attrs('192.0.2.1'), signal());
    const key = `${PREFIX}/subnets/${lease.subnet!.ip}-24`;
    expect(await client.get(key).string()).toBe(
      '{"PublicIP":"192.0.2.1","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"0a:00:00:00:00:01"}}',
    );
    const kv = (await client.getAll().prefix(key).exec()).kvs[0]!;
    const ttl = await client.leaseClient.leaseTimeToLive({ ID: kv.lease, keys: false });
    expect(Number(ttl.grantedTTL)).toBe(86400);
    expect(sm.name).toBe('Etcd Local Manager with Previous Subnet: None');
  });

  it('reads a lease written by Go flannel and reuses it by public IP, revoking the old etcd lease on renewal', async () => {
    const goLease = await client.lease(86400, { autoKeepAlive: false }).grant();
    await client
      .put(`${PREFIX}/subnets/10.5.77.0-24`)
      .value('{"PublicIP":"192.0.2.1","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"}}')
      .lease(goLease);
    const { sm } = manager();
    const lease = await sm.acquireLease(attrs('192.0.2.1'), signal());
    expect(String(lease.subnet)).toBe('10.5.77.0/24');
    const renewed = await sm.renewLease(lease, signal());
    expect(renewed.expiration!.getTime()).toBeGreaterThan(Date.now() + 86_000_000);
    const ttl = await client.leaseClient.leaseTimeToLive({ ID: goLease, keys: false });
    expect(Number(ttl.TTL)).toBe(-1); // revoked
  });

  it('honours a reservation (a key put without a lease) and keeps it one', async () => {
    await client.put(`${PREFIX}/subnets/10.5.9.0-24`).value('{"PublicIP":"192.0.2.1","PublicIPv6":null}');
    const { sm } = manager();
    const lease = await sm.acquireLease(attrs('192.0.2.1'), signal());
    expect(String(lease.subnet)).toBe('10.5.9.0/24');
    expect(lease.expiration).toBeUndefined();
    const kv = (await client.getAll().prefix(`${PREFIX}/subnets/10.5.9.0-24`).exec()).kvs[0]!;
    expect(kv.lease).toBe('0');
  });

  it('gives concurrent acquirers distinct subnets on a nearly full network, and a clear error to the loser', async () => {
    await client.put(`${PREFIX}/config`).value('{"Network":"10.5.0.0/28","SubnetLen":30,"Backend":{"Type":"vxlan"}}');
    const results = await Promise.allSettled([1, 2, 3, 4].map((i) => manager().sm.acquireLease(attrs(`192.0.2.${i}`), signal())));
    const won = results.flatMap((r) => (r.status === 'fulfilled' ? [String(r.value.subnet)] : []));
    expect(won.sort()).toEqual(['10.5.0.12/30', '10.5.0.4/30', '10.5.0.8/30']);
    const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(String(lost.reason)).toMatch(/Network: out of subnets: every subnet of 10\.5\.0\.0\/28 is leased or reserved/);
  });

  it('watches: a snapshot, then puts and deletes; garbage is skipped', async () => {
    await client.put(`${PREFIX}/subnets/10.5.3.0-24`).value('{"PublicIP":"192.0.2.3","PublicIPv6":null}');
    const { sm, logger } = manager();
    const got = firstValueFrom(sm.watchLeases().pipe(take(3), toArray()));
    // The writes below must come after the snapshot's listing and reach a live watch.
    expect(await logged(logger, WATCH_ACK)).toBe(true);
    await client.put(`${PREFIX}/subnets/10.5.4.0-24`).value('{"PublicIP":12}');
    await client.put(`${PREFIX}/subnets/10.5.5.0-24`).value('{"PublicIP":"192.0.2.5","PublicIPv6":null}');
    await client.delete().key(`${PREFIX}/subnets/10.5.3.0-24`);
    const [snap, added, removed] = await got;
    expect(snap).toMatchObject({ kind: 'snapshot', snapshot: [{ subnet: IPNet.parse('10.5.3.0/24') }] });
    expect(added).toMatchObject({ kind: 'events', events: [{ type: 'added', lease: { subnet: IPNet.parse('10.5.5.0/24') } }] });
    expect(removed).toMatchObject({ kind: 'events', events: [{ type: 'removed', lease: { subnet: IPNet.parse('10.5.3.0/24') } }] });
  });

  it('re-lists when the watch revision was compacted away', async () => {
    const { registry } = manager();
    const { revision } = await registry.list(signal());
    await client.put(`${PREFIX}/subnets/10.5.6.0-24`).value('{"PublicIP":"192.0.2.6","PublicIPv6":null}');
    const head = await client.put(`${PREFIX}/subnets/10.5.7.0-24`).value('{"PublicIP":"192.0.2.7","PublicIPv6":null}');
    await client.kv.compact({ revision: head.header.revision, physical: true });
    const first = await firstValueFrom(registry.watch(revision));
    expect(first.kind).toBe('reset');
    expect(first.kind === 'reset' && first.entries.map((e) => e.key).sort()).toEqual(['10.5.6.0-24', '10.5.7.0-24']);
  });

  it('completeLease rejects with LeaseRevokedError when our key is deleted', async () => {
    const { sm, logger } = manager();
    const ac = new AbortController();
    const lease = await sm.acquireLease(attrs('192.0.2.1'), ac.signal);
    const done = expect(sm.completeLease(lease, ac.signal)).rejects.toBeInstanceOf(LeaseRevokedError);
    expect(await logged(logger, WATCH_ACK)).toBe(true); // the deletion reaches a live watch, not a replay
    await client.delete().key(`${PREFIX}/subnets/${lease.subnet!.ip}-24`);
    await done;
  });

  it(
    'carries on across an etcd restart and sees leases written after it',
    async () => {
      const { sm, logger } = manager();
      const results: LeaseWatchResult[] = [];
      const sub = sm.watchLeases().subscribe((r) => results.push(r));
      try {
        expect(await logged(logger, WATCH_ACK)).toBe(true);
        // stop() returns once etcd has exited: the watch's stream is broken, and must resume by itself.
        await etcd.stop();
        await etcd.start();
        const writer = new Etcd3({ hosts: etcd.endpoint });
        await writer.put(`${PREFIX}/subnets/10.5.8.0-24`).value('{"PublicIP":"192.0.2.8","PublicIPv6":null}');
        writer.close();
        const seen = () => results.some((r) => r.kind === 'events' && r.events.some((e) => String(e.lease.subnet) === '10.5.8.0/24'));
        expect(await waitFor(seen, DEADLINE.readyMs)).toBe(true);
      } finally {
        sub.unsubscribe();
      }
    },
    DEADLINE.setupMs,
  );

  it('writes our lease back after etcd lost its data, and renews only by compare-and-swap', async () => {
    const { sm, logger } = manager();
    const ac = new AbortController();
    const lease = await sm.acquireLease(attrs('192.0.2.1'), signal());
    const key = `${PREFIX}/subnets/${lease.subnet!.ip}-24`;
    const holding = sm.completeLease(lease, ac.signal);
    await logged(logger, WATCH_ACK);
    await etcd.wipe();
    await client.put(`${PREFIX}/config`).value(CONFIG); // an operator puts the config back
    const back = await waitFor(async () => (await client.get(key).string()) !== null, DEADLINE.convergeMs);
    expect(back).toBe(true);
    expect(logger.messages('error')).toContain('the etcd store was replaced or restored; listing leases again');
    expect(JSON.parse((await client.get(key).string())!)).toMatchObject({ PublicIP: '192.0.2.1', BackendType: 'vxlan' });
    // Another node now writes our subnet: a renewal must not take it back.
    await client.put(key).value('{"PublicIP":"192.0.2.77","PublicIPv6":null}');
    await expect(holding).rejects.toBeInstanceOf(LeaseRevokedError);
    await expect(sm.renewLease(lease, signal())).rejects.toBeInstanceOf(LeaseRevokedError);
    expect(JSON.parse((await client.get(key).string())!)).toMatchObject({ PublicIP: '192.0.2.77' });
    ac.abort();
  });
});

describe('etcd listing in pages, against a real etcd', () => {
  it('lists more keys than a page holds, each once and in order, and nothing past the subnets prefix', async () => {
    const n = 2 * LIST_PAGE_SIZE + 100;
    const keys = Array.from({ length: n }, (_, i) => `10.${100 + (i >> 8)}.${i & 255}.0-24`);
    for (let i = 0; i < n; i += 100) {
      // etcd allows 128 operations per transaction; a guard that always holds makes one a batch of puts.
      const puts = keys.slice(i, i + 100).map((k) => client.put(`${PREFIX}/subnets/${k}`).value(`{"PublicIP":"198.18.0.1"}`));
      await client
        .if(`${PREFIX}/config`, 'Version', '>', 0)
        .then(...puts)
        .commit();
    }
    // The first key after the prefix's range (its last byte plus one): a listing must stop before it.
    await client.put(`${PREFIX}/subnets0`).value('not a lease');
    const { registry } = manager();
    const { entries, revision } = await registry.list(signal());
    expect(entries.map((e) => e.key)).toEqual([...keys].sort());
    const now = Number((await client.get(`${PREFIX}/config`).exec()).header.revision);
    expect(revision).toBe(now);
  });
});

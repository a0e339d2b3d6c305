// flannel's own etcd v3 client (core/src/subnet/etcd/client.ts, gRPC over node:http2) against real etcd:
// endpoint failover, a watch that survives its member's crash and a connection gone silent, auth tokens
// that etcd forgot, and replies larger than gRPC's usual 4 MiB limit.
import { jest } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Subscription } from 'rxjs';
import { Etcd3 } from 'etcd3';
import { EtcdClient, EtcdRegistry, etcdClientOptions, prefixEnd, type EtcdClientOptions, type EtcdConfig } from '@flannel-ts/core/internal/etcd';
import type { RegistryUpdate } from '@flannel-ts/core/internal';
import { RecordingLogger } from '@flannel-ts/core/testing';
import { startEtcd, type EtcdServer } from '../harness/etcd.js';
import { RUN_PREFIX } from '../harness/netns.js';
import { startProcess, stopAllProcesses, stopProcess, waitForOutput, type Started } from '../harness/processes.js';
import { DEADLINE, waitFor } from '../harness/wait.js';

jest.setTimeout(DEADLINE.setupMs);

const PREFIX = '/coreos.com/network';
const CONFIG = '{"Network":"10.5.0.0/16","Backend":{"Type":"vxlan"}}';
const WATCH_ACK = 'etcd watch connected';
const registries: EtcdRegistry[] = [];
const subscriptions: Subscription[] = [];
const signal = () => AbortSignal.timeout(DEADLINE.convergeMs);

function registry(config: Omit<EtcdConfig, 'prefix'>, extra: Partial<EtcdClientOptions> = {}) {
  const logger = new RecordingLogger();
  const r = new EtcdRegistry({ ...etcdClientOptions({ ...config, prefix: PREFIX }, logger), ...extra }, PREFIX, logger);
  registries.push(r);
  return { r, logger };
}

/** Subscribes to the registry's watch from its current revision; `seen(key)` tells whether a put of `key` arrived. */
async function watching(r: EtcdRegistry, logger: RecordingLogger) {
  const updates: RegistryUpdate[] = [];
  const { revision } = await r.list(signal());
  subscriptions.push(r.watch(revision).subscribe((u) => updates.push(u)));
  expect(await waitFor(() => logger.messages().includes(WATCH_ACK), DEADLINE.readyMs)).toBe(true);
  const seen = (key: string) => updates.some((u) => u.kind === 'changes' && u.changes.some((c) => c.type === 'put' && c.entry.key === key));
  return { updates, seen };
}

const etcdctl = (endpoints: string, ...args: string[]) =>
  execFileSync('etcdctl', ['--endpoints', endpoints, '--dial-timeout=2s', '--command-timeout=5s', ...args], { encoding: 'utf8', stdio: 'pipe' });
/** A write that may meet a leader election: tried until etcd takes it. */
const put = (endpoints: string, key: string, value: string) =>
  waitFor(() => {
    try {
      etcdctl(endpoints, 'put', key, value);
      return true;
    } catch {
      return false;
    }
  }, DEADLINE.convergeMs);

afterAll(async () => {
  for (const s of subscriptions) s.unsubscribe();
  await Promise.all(registries.map((r) => r.close()));
  await stopAllProcesses();
});

describe('a 3-member etcd cluster on loopback', () => {
  const base = 20000 + Math.floor(Math.random() * 20000);
  const dir = mkdtempSync(join(tmpdir(), `${RUN_PREFIX}etcd-cluster-`));
  const names = [0, 1, 2].map((i) => `${RUN_PREFIX}m${i}`);
  const clientUrl = (i: number) => `http://127.0.0.1:${base + 2 * i}`;
  const peerUrl = (i: number) => `http://127.0.0.1:${base + 2 * i + 1}`;
  const args = (i: number) => [
    ...['--name', names[i]!, '--data-dir', join(dir, names[i]!)],
    ...['--listen-client-urls', clientUrl(i), '--advertise-client-urls', clientUrl(i)],
    ...['--listen-peer-urls', peerUrl(i), '--initial-advertise-peer-urls', peerUrl(i)],
    ...['--initial-cluster', names.map((n, j) => `${n}=${peerUrl(j)}`).join(','), '--initial-cluster-token', `${RUN_PREFIX}cluster`],
    // Our keepalive test pings every 500 ms; etcd's default would call that abuse (fewer than 5 s apart).
    '--grpc-keepalive-min-time=100ms',
  ];
  const members: (Started | undefined)[] = [];
  const all = [0, 1, 2].map(clientUrl).join(',');
  const ready = (p: Started) => waitForOutput(p, (o) => o.includes('ready to serve client requests'), DEADLINE.readyMs, 'etcd member');
  let proxy: { server: Server; sockets: Socket[]; frozen: boolean } | undefined;

  beforeAll(async () => {
    for (const i of [0, 1, 2]) members[i] = startProcess('etcd', args(i));
    await Promise.all(members.map((m) => ready(m!)));
    etcdctl(all, 'put', `${PREFIX}/config`, CONFIG);
  }, DEADLINE.setupMs);

  afterAll(async () => {
    proxy?.server.close();
    for (const s of proxy?.sockets ?? []) s.destroy();
    for (const m of members) if (m) await stopProcess(m.child);
    rmSync(dir, { recursive: true, force: true });
  });

  it('moves on past an endpoint that refuses connections, for reads and writes', async () => {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    const { r } = registry({ endpoints: `http://127.0.0.1:1,${clientUrl(1)}` });
    await expect(r.getNetworkConfig(signal())).resolves.toBe(CONFIG);
    const created = await r.create('10.5.1.0-24', '{"PublicIP":"192.0.2.1"}', 60, signal());
    expect(created).toMatchObject({ key: '10.5.1.0-24', reservation: false });
    expect(etcdctl(all, 'get', `${PREFIX}/subnets/10.5.1.0-24`, '--print-value-only').trim()).toBe('{"PublicIP":"192.0.2.1"}');
  });

  it("keeps watching through its member's crash, without a gap and without listing again", async () => {
    // Calls start on the first endpoint: member 0 serves the watch.
    const { r, logger } = registry({ endpoints: all });
    const { updates, seen } = await watching(r, logger);
    await put(all, `${PREFIX}/subnets/10.5.2.0-24`, '{"PublicIP":"192.0.2.2"}');
    expect(await waitFor(() => seen('10.5.2.0-24'), DEADLINE.convergeMs)).toBe(true);
    await stopProcess(members[0]!.child, 0, 'SIGKILL');
    members[0] = undefined;
    const others = [1, 2].map(clientUrl).join(',');
    await put(others, `${PREFIX}/subnets/10.5.3.0-24`, '{"PublicIP":"192.0.2.3"}');
    await put(others, `${PREFIX}/subnets/10.5.4.0-24`, '{"PublicIP":"192.0.2.4"}');
    expect(await waitFor(() => seen('10.5.3.0-24') && seen('10.5.4.0-24'), DEADLINE.convergeMs)).toBe(true);
    expect(updates.map((u) => u.kind)).not.toContain('reset');
    const keys = updates.flatMap((u) => (u.kind === 'changes' ? u.changes.map((c) => (c.type === 'put' ? c.entry.key : c.key)) : []));
    expect(keys).toEqual(['10.5.2.0-24', '10.5.3.0-24', '10.5.4.0-24']);
    await expect(r.getNetworkConfig(signal())).resolves.toBe(CONFIG);
    members[0] = startProcess('etcd', args(0));
    await ready(members[0]);
  });

  it('notices a connection that went silent (no reset, no answer) by its keepalive pings, and watches through another member', async () => {
    const target = base + 2; // member 1
    const p = { server: createServer(), sockets: [] as Socket[], frozen: false };
    proxy = p;
    p.server.on('connection', (c) => {
      const upstream = connect(target, '127.0.0.1');
      p.sockets.push(c, upstream);
      // Frozen: bytes are dropped both ways and nothing is closed, as across a partition.
      c.on('data', (d) => void (p.frozen || upstream.write(d)));
      upstream.on('data', (d) => void (p.frozen || c.write(d)));
      c.on('error', () => upstream.destroy());
      upstream.on('error', () => c.destroy());
      c.on('close', () => upstream.destroy());
      upstream.on('close', () => c.destroy());
    });
    await new Promise<void>((resolve) => p.server.listen(0, '127.0.0.1', resolve));
    const port = (p.server.address() as { port: number }).port;
    const { r, logger } = registry({ endpoints: `http://127.0.0.1:${port},${clientUrl(2)}` }, { keepaliveMs: 500 });
    const { updates, seen } = await watching(r, logger);
    await put(all, `${PREFIX}/subnets/10.5.5.0-24`, '{"PublicIP":"192.0.2.5"}');
    expect(await waitFor(() => seen('10.5.5.0-24'), DEADLINE.convergeMs)).toBe(true);
    p.frozen = true;
    await put(all, `${PREFIX}/subnets/10.5.6.0-24`, '{"PublicIP":"192.0.2.6"}');
    expect(await waitFor(() => seen('10.5.6.0-24'), DEADLINE.convergeMs)).toBe(true);
    expect(logger.entries.some((e) => e.msg === 'etcd watch disconnected; waiting to reconnect' && /keepalive ping/.test(JSON.stringify(e.obj)))).toBe(true);
    expect(updates.map((u) => u.kind)).not.toContain('reset');
    await expect(r.getNetworkConfig(signal())).resolves.toBe(CONFIG);
  });
});

describe('a single etcd', () => {
  let etcd: EtcdServer;
  let writer: Etcd3;

  beforeAll(async () => {
    etcd = await startEtcd();
    writer = new Etcd3({ hosts: etcd.endpoint });
    await writer.put(`${PREFIX}/config`).value(CONFIG);
  }, DEADLINE.setupMs);

  afterAll(async () => {
    writer?.close();
    await etcd?.destroy();
  });

  it('lists and watches more than 4 MiB at once (six 1 MB leases), where gRPC clients stop by default', async () => {
    const { r } = registry({ endpoints: etcd.endpoint });
    const { revision } = await r.list(signal());
    const big = (i: number) => JSON.stringify({ PublicIP: `192.0.2.${i}`, Padding: String(i).repeat(1_000_000) });
    for (let i = 1; i <= 6; i++) await writer.put(`${PREFIX}/subnets/10.5.${i}.0-24`).value(big(i));
    const listing = await r.list(signal());
    expect(listing.entries.map((e) => e.value)).toEqual([1, 2, 3, 4, 5, 6].map(big));
    // A watch from before the writes catches up in one reply of ~6 MB.
    const first = await new Promise<RegistryUpdate>((resolve) => {
      const sub = r.watch(revision).subscribe((u) => {
        sub.unsubscribe();
        resolve(u);
      });
    });
    expect(first.kind === 'changes' && first.changes.map((c) => (c.type === 'put' ? c.entry.value : ''))).toEqual([1, 2, 3, 4, 5, 6].map(big));
    await writer.delete().prefix(`${PREFIX}/subnets/`);
  });

  it('authenticates again when etcd no longer knows its token, for the watch and for calls; the password is never logged', async () => {
    const PASSWORD = 'pa55-w0rd-never-logged';
    etcdctl(etcd.endpoint, 'role', 'add', 'root');
    etcdctl(etcd.endpoint, 'user', 'add', 'root', `--new-user-password=${PASSWORD}`);
    etcdctl(etcd.endpoint, 'user', 'grant-role', 'root', 'root');
    etcdctl(etcd.endpoint, 'auth', 'enable');
    const asRoot = ['--user', `root:${PASSWORD}`];
    try {
      const { r, logger } = registry({ endpoints: etcd.endpoint, username: 'root', password: PASSWORD });
      await expect(r.getNetworkConfig(signal())).resolves.toBe(CONFIG);
      // The watch on a client of its own, which makes no other call that could fetch a new token for it.
      const client = new EtcdClient(etcdClientOptions({ endpoints: etcd.endpoint, prefix: PREFIX, username: 'root', password: PASSWORD }, logger));
      const events: string[] = [];
      const canceled: string[] = [];
      let created = 0;
      const watch = client.watch(
        { key: `${PREFIX}/subnets/`, rangeEnd: prefixEnd(`${PREFIX}/subnets/`), startRevision: (await r.list(signal())).revision + 1 },
        {
          onCreated: () => created++,
          onResponse: (res) => events.push(...res.events.map((e) => e.kv.key)),
          onCanceled: (res) => canceled.push(res.cancelReason),
          onDisconnected: () => undefined,
        },
      );
      try {
        expect(await waitFor(() => created === 1, DEADLINE.readyMs)).toBe(true);
        // Turning auth off drops every token etcd issued (ours included); the restart makes the watch reconnect with its old one.
        etcdctl(etcd.endpoint, ...asRoot, 'auth', 'disable');
        etcdctl(etcd.endpoint, ...asRoot, 'auth', 'enable');
        await etcd.stop();
        await etcd.start();
        etcdctl(etcd.endpoint, ...asRoot, 'put', `${PREFIX}/subnets/10.5.7.0-24`, '{"PublicIP":"192.0.2.7"}');
        expect(await waitFor(() => events.includes(`${PREFIX}/subnets/10.5.7.0-24`) || canceled.length > 0, DEADLINE.convergeMs)).toBe(true);
        expect(canceled).toEqual([]);
        expect(events).toEqual([`${PREFIX}/subnets/10.5.7.0-24`]);
      } finally {
        watch.close();
        client.close();
      }
      await expect(r.getNetworkConfig(signal())).resolves.toBe(CONFIG);
      expect(JSON.stringify(logger.entries)).not.toContain(PASSWORD);
      // A wrong password is etcd's refusal, said as etcd says it, without the password.
      const wrong = registry({ endpoints: etcd.endpoint, username: 'root', password: 'not-it' }).r;
      const err = (await wrong.getNetworkConfig(signal()).catch((e: unknown) => e)) as Error;
      expect(err.message).toMatch(/authentication failed, invalid user ID or password/);
      expect(err.message).not.toContain('not-it');
    } finally {
      etcdctl(etcd.endpoint, ...asRoot, 'auth', 'disable');
    }
  });
});

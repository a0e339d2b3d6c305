import 'reflect-metadata';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Container } from 'inversify';
import {
  BACKEND_CONTRACT_VERSION,
  backendModule,
  Clock,
  Logger,
  Netlink,
  ReconcilerObserver,
  SubnetManager,
  type BackendContext,
  type BackendDescriptor,
  type Network,
  type NetworkConfig,
} from '@flannel-ts/core';
import { CommandRunner, PreviousRun, systemClock } from '@flannel-ts/core/internal';
import { FakeNetlink, InMemorySubnetManager, loadNetConfig, RecordingLogger } from '@flannel-ts/core/testing';
import { backendsModule } from '@flannel-ts/backends';
import { DaemonState } from './daemon-state.js';
import { Flanneld } from './flanneld.js';
import { HealthServer } from './healthz.js';
import { DaemonMetrics } from './metrics.js';
import { FlanneldOptions, toOptions } from './options.js';
import { parseFlags } from './flags.js';
import { NetAdminCheck } from './privileges.js';
import { ObservedSubnetManager, OutageTracker } from './store-monitor.js';

type RunBehaviour = (signal: AbortSignal) => Promise<void>;

/** A backend named "fake" whose network's run() does what the test says. */
function fakeBackend(run: RunBehaviour, register?: (ctx: BackendContext, config: NetworkConfig) => Promise<Network>): BackendDescriptor {
  return {
    name: 'fake',
    contractVersion: BACKEND_CONTRACT_VERSION,
    create: (ctx) => ({
      registerNetwork: async (config, signal) => {
        if (register) return register(ctx, config);
        const lease = await ctx.subnetManager.acquireLease({ publicIP: ctx.extIface.extAddr!, backendType: 'fake' }, signal);
        return { lease, mtu: 1400, run };
      },
    }),
  };
}

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'fts-flanneld-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Rules commands that all fail, as iptables or nft do without CAP_NET_ADMIN. */
const failingRunner: CommandRunner = { run: async () => ({ code: 1, stdout: '', stderr: 'Operation not permitted (you must be root)' }) };

function daemon(backend: BackendDescriptor, o: { flags?: string[]; runner?: CommandRunner } = {}) {
  const config = loadNetConfig('{"Network":"10.244.0.0/16","EnableNFTables":true,"Backend":{"Type":"fake"}}');
  const nl = new FakeNetlink();
  const eth0 = nl.addDevice('eth0');
  nl.addAddress(eth0.index, '192.0.2.10/24');
  const logger = new RecordingLogger();
  const opts = toOptions({
    ...parseFlags(['--iface=eth0', `--subnet-file=${join(dir, 'subnet.env')}`, '--iptables-forward-rules=false', ...(o.flags ?? [])]).values,
  });
  const c = new Container({ defaultScope: 'Singleton' });
  c.bind<FlanneldOptions>(FlanneldOptions).toConstantValue(opts);
  c.bind<Logger>(Logger).toConstantValue(logger);
  c.bind<Clock>(Clock).toConstantValue(systemClock);
  c.bind<Netlink>(Netlink).toConstantValue(nl);
  c.bind<PreviousRun>(PreviousRun).toConstantValue({ subnetEnv: undefined });
  c.bind<CommandRunner>(CommandRunner).toConstantValue(o.runner ?? { run: async () => ({ code: 1, stdout: '', stderr: 'no such table' }) });
  c.bind(DaemonMetrics).toSelf();
  c.bind<ReconcilerObserver>(ReconcilerObserver).toService(DaemonMetrics);
  c.bind(DaemonState).toSelf();
  c.bind(OutageTracker).toDynamicValue(
    (ctx) =>
      new OutageTracker(
        { kind: 'etcd', endpoint: 'http://192.0.2.250:2379', flag: '--etcd-endpoints' },
        logger,
        systemClock,
        ctx.get(DaemonMetrics),
        ctx.get(DaemonState),
      ),
  );
  c.bind<SubnetManager>(SubnetManager).toDynamicValue(
    (ctx) => new ObservedSubnetManager(new InMemorySubnetManager(config), ctx.get(DaemonMetrics), ctx.get(OutageTracker), ctx.get(DaemonState)),
  );
  c.bind<() => void>(NetAdminCheck).toConstantValue(() => undefined);
  c.bind(HealthServer).toSelf();
  c.bind(Flanneld).toSelf();
  c.load(backendsModule, backendModule(backend));
  return { c, logger, state: () => c.get(DaemonState), flanneld: () => c.getAsync(Flanneld) };
}

describe('Flanneld: failures do not look like success', () => {
  it('exits 1 when the backend run() rejects after startup, names the backend, and readiness fails at once', async () => {
    let fail!: (err: Error) => void;
    const d = daemon(fakeBackend(() => new Promise<void>((_, reject) => (fail = reject))));
    const f = await d.flanneld();
    const ac = new AbortController();
    const code = f.run(ac.signal);
    await waitUntil(() => d.logger.messages('info').includes('flannel is ready'));
    expect(d.state().readiness().ready).toBe(true);
    let readyWhenFailed: boolean | undefined;
    const failed = new Error('netlink socket closed');
    queueMicrotask(() => fail(failed));
    await waitUntil(() => {
      readyWhenFailed ??= d.state().backendStopped ? d.state().readiness().ready : undefined;
      return d.state().backendStopped !== undefined;
    });
    expect(readyWhenFailed).toBe(false);
    expect(await code).toBe(1);
    expect(d.state().readiness().checks.backend).toEqual({ ok: false, detail: 'the fake backend failed: netlink socket closed' });
    expect(d.logger.messages('error')).toContain('the fake backend failed; exiting');
    expect(d.logger.messages('info')).not.toContain('Exiting cleanly...');
  });

  it('exits 1 when run() resolves while the daemon still runs', async () => {
    let finish!: () => void;
    const d = daemon(fakeBackend(() => new Promise<void>((resolve) => (finish = resolve))));
    const f = await d.flanneld();
    const code = f.run(new AbortController().signal);
    await waitUntil(() => d.logger.messages('info').includes('flannel is ready'));
    finish();
    expect(await code).toBe(1);
    expect(d.state().readiness()).toMatchObject({ ready: false, failing: ['backend'] });
    expect(d.logger.messages('error')).toContain('the fake backend stopped on its own; exiting');
  });

  it('fails with the rules error when they cannot be installed, stopping the backend that started meanwhile', async () => {
    let backendRan = false;
    let backendStopped = false;
    const d = daemon(
      fakeBackend(async (signal) => {
        backendRan = true;
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
        backendStopped = true;
      }),
      { flags: ['--ip-masq'], runner: failingRunner },
    );
    const f = await d.flanneld();
    await expect(f.run(new AbortController().signal)).rejects.toThrow(/Operation not permitted/);
    expect(backendRan).toBe(true);
    expect(backendStopped).toBe(true);
    expect(existsSync(join(dir, 'subnet.env'))).toBe(false);
    expect(d.state().readiness().ready).toBe(false);
    expect(d.logger.messages('info')).not.toContain('Exiting cleanly...');
  });

  it('programs peers while the rules install, and writes subnet.env only once they are in', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slowRules: CommandRunner = {
      run: async () => {
        await gate;
        return { code: 0, stdout: '', stderr: '' };
      },
    };
    let backendRan = false;
    const d = daemon(
      fakeBackend(async (signal) => {
        backendRan = true;
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
      }),
      { flags: ['--ip-masq'], runner: slowRules },
    );
    const f = await d.flanneld();
    const ac = new AbortController();
    const code = f.run(ac.signal);
    await waitUntil(() => backendRan);
    expect(f.stage).toBe('installing traffic rules');
    expect(existsSync(join(dir, 'subnet.env'))).toBe(false);
    expect(d.state().readiness().ready).toBe(false);
    release();
    await waitUntil(() => d.logger.messages('info').includes('flannel is ready'));
    expect(existsSync(join(dir, 'subnet.env'))).toBe(true);
    expect(f.stage).toBe('running');
    ac.abort();
    expect(await code).toBe(0);
  });

  it('stops at once when the stop signal came while the backend registered', async () => {
    const ac = new AbortController();
    let backendSignal: AbortSignal | undefined;
    const run = async (signal: AbortSignal) => {
      backendSignal = signal;
      if (!signal.aborted) await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
    };
    const d = daemon(
      fakeBackend(run, async (ctx) => {
        const lease = await ctx.subnetManager.acquireLease({ publicIP: ctx.extIface.extAddr!, backendType: 'fake' }, ac.signal);
        ac.abort(); // SIGTERM during a step that cannot be interrupted: no abort event reaches what follows
        return { lease, mtu: 1400, run };
      }),
    );
    const f = await d.flanneld();
    expect(await f.run(ac.signal)).toBe(0);
    expect(backendSignal?.aborted).toBe(true);
    expect(existsSync(join(dir, 'subnet.env'))).toBe(false);
  });

  it('exits 0 after a clean stop', async () => {
    const d = daemon(fakeBackend((signal) => new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()))));
    const f = await d.flanneld();
    const ac = new AbortController();
    const code = f.run(ac.signal);
    await waitUntil(() => d.logger.messages('info').includes('flannel is ready'));
    ac.abort();
    expect(await code).toBe(0);
    expect(d.logger.messages('info')).toContain('Exiting cleanly...');
  });

  it("names the backend's registerNetwork as the step it is waiting on while that never settles", async () => {
    const d = daemon(
      fakeBackend(
        async () => undefined,
        () => new Promise<Network>(() => undefined),
      ),
    );
    const f = await d.flanneld();
    void f.run(new AbortController().signal);
    await waitUntil(() => f.stage.includes('registerNetwork'));
    expect(f.stage).toBe("the fake backend's registerNetwork (it acquires the lease)");
    expect(d.state().readiness().checks.lease).toEqual({ ok: false, detail: "no lease yet (the fake backend's registerNetwork (it acquires the lease))" });
  });

  it('refuses a --iface that does not exist before asking the store, listing what does', async () => {
    const d = daemon(fakeBackend(async () => undefined));
    const opts = d.c.get<FlanneldOptions>(FlanneldOptions);
    opts.ifaces = ['eth7', '10.9.9.9'];
    const f = await d.flanneld();
    await expect(f.run(new AbortController().signal)).rejects.toThrow(
      '--iface: no interface is named or holds "eth7" or "10.9.9.9"; this host has lo (no address), eth0 (192.0.2.10/24)',
    );
    expect(d.c.get(DaemonMetrics).registry.getSingleMetric('flannel_store_requests_total')).toBeDefined();
    expect(await metricValue(d.c.get(DaemonMetrics), 'flannel_store_requests_total')).toBe(0);
  });
});

async function metricValue(m: DaemonMetrics, name: string): Promise<number> {
  const values = (await m.registry.getSingleMetric(name)!.get()).values;
  return values.reduce((a, v) => a + v.value, 0);
}

async function waitUntil(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

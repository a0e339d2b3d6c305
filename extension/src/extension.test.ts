// The extension backend over the test kit's subnet manager, running real commands: a small recorder
// script (node) appends what it was given (argv, environment, stdin) to a file. No root needed. The same
// backend driving routes between three nodes is test/e2e/extension.test.ts.
import { IP, IPNet, isUserError, type Lease, type Network } from '@flannel-ts/core';
import { loadNetConfig, testBackendContext, type TestBackendContext } from '@flannel-ts/core/testing';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jest } from '@jest/globals';
import { backend } from './index.js';

// Each command is a node process: a fraction of a second when idle, seconds on a loaded machine.
jest.setTimeout(120_000);

interface Call {
  argv: string[];
  env: Record<string, string | undefined>;
  stdin: string;
}

let dir: string;
let log: string;
let recorder: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'flannel-ext-'));
  log = join(dir, 'calls.jsonl');
  recorder = join(dir, 'record.mjs');
  // Appends {argv, env, stdin} to the log; exits with $EXIT_CODE after printing $SAY; sleeps forever on "hang".
  writeFileSync(
    recorder,
    `import { appendFileSync, readFileSync } from 'node:fs';
const [logFile, ...argv] = process.argv.slice(2);
const pick = ['NETWORK', 'SUBNET', 'IPV6SUBNET', 'PUBLIC_IP', 'PUBLIC_IPV6'];
const env = Object.fromEntries(pick.filter((k) => k in process.env).map((k) => [k, process.env[k]]));
appendFileSync(logFile, JSON.stringify({ argv, env, stdin: readFileSync(0, 'utf8') }) + '\\n');
if (argv[0] === 'hang') setInterval(() => {}, 1000);
if (argv[0] === 'fail') { console.error('RTNETLINK answers: Network is unreachable'); process.exit(2); }
`,
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeEach(() => rmSync(log, { force: true }));

/** The calls recorded so far: complete lines only (a command may be writing the next one). */
const calls = (): Call[] =>
  existsSync(log)
    ? readFileSync(log, 'utf8')
        .split('\n')
        .slice(0, -1)
        .map((l) => JSON.parse(l) as Call)
    : [];

/** Polls until `check` holds or the deadline passes (commands run in other processes). */
async function eventually(check: () => boolean, ms = 30_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  return check();
}

const cmd = (...args: string[]) => [process.execPath, recorder, log, ...args].join(' ');
const netConf = (b: Record<string, unknown>) => JSON.stringify({ Network: '10.244.0.0/16', Backend: { Type: 'extension', ...b } });
const peer = (n: number, backendData: Lease['attrs']['backendData'] = `data of ${n}`, backendType = 'extension'): Lease => ({
  subnet: IPNet.parse(`10.244.${n}.0/24`),
  attrs: { publicIP: IP.parse(`192.0.2.${n}`), backendType, backendData },
});

async function start(b: Record<string, unknown>, ctx: TestBackendContext = testBackendContext(loadNetConfig(netConf(b)))) {
  const network: Network = await (await backend.create(ctx)).registerNetwork(loadNetConfig(netConf(b)), AbortSignal.timeout(30_000));
  const stop = new AbortController();
  const running = network.run(stop.signal);
  return { ctx, network, stop, running };
}

async function finish(t: { stop: AbortController; running: Promise<void> }) {
  t.stop.abort();
  await t.running;
}

describe('extension backend', () => {
  it('publishes the pre-startup output as a JSON string, then runs the post-startup command with the lease', async () => {
    const t = await start({ PreStartupCommand: 'echo   backend    data', PostStartupCommand: cmd('post', '$SUBNET', '${PUBLIC_IP}') });
    const lease = t.network.lease;
    expect(lease.attrs).toMatchObject({ backendType: 'extension', publicIP: IP.parse('192.0.2.10'), backendData: 'backend data' });
    expect(t.network.mtu).toBe(1500);
    expect(calls()).toEqual([
      {
        argv: ['post', String(lease.subnet), '192.0.2.10'],
        env: { NETWORK: '10.244.0.0/16', SUBNET: String(lease.subnet), IPV6SUBNET: '', PUBLIC_IP: '192.0.2.10', PUBLIC_IPV6: '' },
        stdin: '\n',
      },
    ]);
    await finish(t);
  });

  it('runs the add command per peer with its subnet, address and BackendData, and the remove command with what it was added with', async () => {
    const t = await start({ SubnetAddCommand: cmd('add', '$SUBNET', 'via', '$PUBLIC_IP'), SubnetRemoveCommand: cmd('remove', '${SUBNET}') });
    t.ctx.subnetManager.putLease(peer(2));
    t.ctx.subnetManager.putLease(peer(3, null));
    expect(await eventually(() => calls().length === 2)).toBe(true);
    t.ctx.subnetManager.deleteLease(IPNet.parse('10.244.2.0/24'));
    expect(await eventually(() => calls().length === 3)).toBe(true);
    expect(calls()).toEqual([
      {
        argv: ['add', '10.244.2.0/24', 'via', '192.0.2.2'],
        env: expect.objectContaining({ SUBNET: '10.244.2.0/24', PUBLIC_IP: '192.0.2.2' }),
        stdin: 'data of 2\n',
      },
      { argv: ['add', '10.244.3.0/24', 'via', '192.0.2.3'], env: expect.objectContaining({ SUBNET: '10.244.3.0/24', PUBLIC_IP: '192.0.2.3' }), stdin: '\n' },
      // The store's delete names only the subnet; the command still gets the address the peer was added with.
      { argv: ['remove', '10.244.2.0/24'], env: expect.objectContaining({ SUBNET: '10.244.2.0/24', PUBLIC_IP: '192.0.2.2' }), stdin: 'data of 2\n' },
    ]);
    expect(t.network.stats!()).toEqual({ peers: 1, skippedPeers: 0 });
    await finish(t);
  });

  it('never runs a command for our own lease, a peer of another type, or BackendData that is not a string', async () => {
    const t = await start({ SubnetAddCommand: cmd('add', '$SUBNET') });
    t.ctx.subnetManager.putLease({ ...t.network.lease, attrs: { ...t.network.lease.attrs, backendData: 'changed' } });
    t.ctx.subnetManager.putLease(peer(2, { VtepMAC: '0a:00:00:00:00:02' }, 'vxlan'));
    t.ctx.subnetManager.putLease(peer(3, { not: 'a string' }));
    t.ctx.subnetManager.putLease(peer(4));
    expect(await eventually(() => calls().length === 1)).toBe(true);
    expect(calls().map((c) => c.argv)).toEqual([['add', '10.244.4.0/24']]);
    expect(t.network.stats!()).toEqual({ peers: 1, skippedPeers: 2 });
    expect(
      t.network.status!()
        .peers.flatMap((p) => p.problems)
        .sort(),
    ).toEqual(['BackendData is not a JSON string', 'ignoring non-extension subnet: BackendType is "vxlan"']);
    await finish(t);
  });

  it('logs a failed add command with its output, and goes on with the next event', async () => {
    const f = await start({ SubnetAddCommand: cmd('fail', '$SUBNET') });
    f.ctx.subnetManager.putLease(peer(5));
    f.ctx.subnetManager.putLease(peer(6));
    expect(await eventually(() => f.ctx.logger.entries.filter((e) => e.level === 'error').length === 2)).toBe(true);
    const failed = f.ctx.logger.entries.filter((e) => e.level === 'error');
    expect(failed.map((e) => e.obj)).toEqual([
      expect.objectContaining({ field: 'SubnetAddCommand', subnet: '10.244.5.0/24', failure: 'exited 2', output: 'RTNETLINK answers: Network is unreachable' }),
      expect.objectContaining({ field: 'SubnetAddCommand', subnet: '10.244.6.0/24', failure: 'exited 2' }),
    ]);
    expect(f.network.stats!()).toEqual({ peers: 0, skippedPeers: 2 });
    await finish(f);
  });

  it('kills a command that outlives CommandTimeout, and one still running when stopped', async () => {
    const t = await start({ CommandTimeout: 1, SubnetAddCommand: cmd('hang', '$SUBNET') });
    t.ctx.subnetManager.putLease(peer(2));
    t.ctx.subnetManager.putLease(peer(3));
    // The first is killed after a second, then the second runs (and hangs too). Under load the first may be
    // killed before its node process has even recorded its call, so only the second's call is awaited.
    expect(await eventually(() => calls().some((c) => c.argv.join(' ') === 'hang 10.244.3.0/24'))).toBe(true);
    expect(t.ctx.logger.entries.find((e) => e.level === 'error')?.obj).toMatchObject({
      subnet: '10.244.2.0/24',
      failure: 'timed out after 1 s and was killed',
    });
    await finish(t); // resolves although the second command would hang for ever
  });

  it('fails startup when the pre-startup command fails, naming the field and its output, before taking a lease', async () => {
    const ctx = testBackendContext(loadNetConfig(netConf({})));
    const err = await start({ PreStartupCommand: cmd('fail') }, ctx).catch((e: unknown) => e);
    expect(isUserError(err)).toBe(true);
    expect((err as Error).message).toMatch(/^Backend\.PreStartupCommand: \S+node exited 2; its output: RTNETLINK answers: Network is unreachable/);
    expect(ctx.subnetManager.list()).toEqual([]);
    const missing = await start({ PostStartupCommand: '/nonexistent/setup $SUBNET' }).catch((e: unknown) => e);
    expect((missing as Error).message).toMatch(/^Backend\.PostStartupCommand: \/nonexistent\/setup cannot run \/nonexistent\/setup: ENOENT with no output/);
  });

  it('rejects bad options naming the field, and warns of shell syntax and of ShutdownCommand', async () => {
    await expect(start({ CommandTimeout: 0 })).rejects.toThrow(/Backend\.CommandTimeout: 0 is not a whole number of seconds from 1 to 3600/);
    await expect(start({ SubnetAddCommand: ['ip', 'route'] })).rejects.toThrow(
      /Backend\.SubnetAddCommand: error decoding backend config: \["ip","route"\] is not a string/,
    );
    const t = await start({ SubnetAddCommand: 'ip route replace $SUBNET via $PUBLIC_IP; echo done', ShutdownCommand: 'true' });
    const warned = t.ctx.logger.entries.filter((e) => e.level === 'warn').map((e) => (e.obj as { field?: string }).field);
    expect(warned).toEqual(['Backend.ShutdownCommand', 'Backend.SubnetAddCommand']);
    await finish(t);
  });
});

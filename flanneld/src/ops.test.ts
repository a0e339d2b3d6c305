import { EventEmitter } from 'node:events';
import { execFileSync } from 'node:child_process';
import { createLogger, formatLogLine } from '@flannel-ts/core/internal';
import { RecordingLogger } from '@flannel-ts/core/testing';
import { exitOnStall, installFatalHandlers } from './fatal.js';
import { DaemonMetrics } from './metrics.js';
import { hasNetAdmin, requireNetAdmin } from './privileges.js';
import { logFormat } from './options.js';

describe('logs', () => {
  const capture = (format: 'json' | 'text') => {
    const lines: string[] = [];
    const logger = createLogger('info', { write: (l: string) => lines.push(l) }, format);
    return { logger, lines };
  };

  it('JSON lines carry an ISO time and the level name', () => {
    const { logger, lines } = capture('json');
    logger.warn({ subnet: '10.244.1.0/24' }, 'skipping peer');
    const rec = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(rec).toMatchObject({ level: 'warn', msg: 'skipping peer', subnet: '10.244.1.0/24', name: 'flanneld' });
    expect(new Date(rec.time as string).toISOString()).toBe(rec.time);
  });

  it('text lines are time, level, message, then key=value (quoted when needed)', () => {
    const { logger, lines } = capture('text');
    logger.error({ field: '-iface', hint: 'use eth0', n: 3, list: ['a'] }, 'flanneld: no such interface');
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ERROR flanneld: no such interface field=-iface hint="use eth0" n=3 list=\["a"\]\n$/);
    expect(formatLogLine('not json')).toBe('not json\n');
  });

  it('--log-format: json or text, text only by default on a terminal', () => {
    expect(logFormat('', { isTTY: true })).toBe('text');
    expect(logFormat('', { isTTY: false })).toBe('json');
    expect(logFormat('text', { isTTY: false })).toBe('text');
    expect(() => logFormat('yaml')).toThrow('-log-format: unknown format "yaml"; use one of json, text');
  });
});

describe('uncaught errors and stalls', () => {
  it('logs an error thrown from a timer through the logger and exits 1', () => {
    const proc = new EventEmitter();
    const logger = new RecordingLogger();
    const exits: number[] = [];
    installFatalHandlers(proc, logger, (c) => exits.push(c));
    proc.emit('uncaughtException', new Error('boom in a timer'));
    expect(exits).toEqual([1]);
    expect(logger.entries[0]).toMatchObject({ level: 'error', msg: 'flanneld hit an unexpected error; exiting', obj: { err: 'boom in a timer' } });
  });

  it('turns a startup that can never finish into exit 1 naming the step; says nothing once finished', () => {
    const proc = new EventEmitter();
    const logger = new RecordingLogger();
    const exits: number[] = [];
    let finished = false;
    exitOnStall(
      proc,
      logger,
      () => "the geneve backend's registerNetwork",
      () => finished,
      (c) => exits.push(c),
    );
    proc.emit('beforeExit');
    expect(exits).toEqual([1]);
    expect(logger.messages('error')[0]).toBe("flanneld stalled: the geneve backend's registerNetwork never finished and nothing is left to wait for; exiting");
    finished = true;
    proc.emit('beforeExit');
    expect(exits).toEqual([1]);
  });
});

describe('CAP_NET_ADMIN', () => {
  it('reads the effective capability set', () => {
    expect(hasNetAdmin('Name:\tnode\nCapEff:\t000001ffffffffff\n')).toBe(true);
    expect(hasNetAdmin('CapEff:\t0000000000000000\n')).toBe(false);
    expect(hasNetAdmin('CapEff:\t0000000000001000\n')).toBe(true);
  });

  it('says that root or CAP_NET_ADMIN is needed', () => {
    expect(() => requireNetAdmin('flanneld', () => 'CapEff:\t0000000000000000\n')).toThrow(
      'privileges: flanneld needs CAP_NET_ADMIN to program devices, routes and rules, and this process does not have it; run it as root (sudo)',
    );
    expect(() => requireNetAdmin('flanneld', () => 'CapEff:\t0000000000001000\n')).not.toThrow();
  });
});

describe('metrics', () => {
  it('follows Prometheus conventions: promtool check metrics finds nothing', async () => {
    const m = new DaemonMetrics();
    m.buildInfo.set({ version: 'v0.1.0', backend: 'vxlan' }, 1);
    m.leaseEvents('added', 3);
    m.reconcilePass('events', true);
    m.repaired('route', 2);
    m.netlinkOps(5, new Map([['EEXIST', 1]]));
    m.leaseToKernel(0.004);
    m.rulesResyncsTotal.inc({ result: 'ok' });
    m.storeRequestsTotal.inc({ op: 'get_config' });
    const text = await m.registry.metrics();
    expect(text).toContain('flannel_repairs_total{kind="route"} 2');
    expect(text).toContain('flannel_netlink_errors_total{errno="EEXIST"} 1');
    expect(text).toContain('flannel_lease_to_kernel_seconds_bucket{le="0.005"} 1');
    expect(text).not.toMatch(/^nodejs_active_handles_total/m);
    // The event-loop gauges come from our monitor, once each (not also from prom-client's).
    for (const g of ['min', 'max', 'p99']) expect(text.match(new RegExp(`^nodejs_eventloop_lag_${g}_seconds \\d`, 'gm'))).toHaveLength(1);
    m.loopDelay.stop();
    let out = '';
    try {
      out = execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', stdio: 'pipe' });
    } catch (err) {
      const e = err as { stdout: string; stderr: string };
      throw new Error(`promtool check metrics failed:\n${e.stdout}${e.stderr}`);
    }
    expect(out.trim()).toBe('');
  });

  it("serves each tunnel peer's handshake time and byte counts, read at scrape time, promtool-clean", async () => {
    const m = new DaemonMetrics();
    let rx = 1000;
    const key = 'jTbrpui9F1lcWt18KRnDdKJRez/ckda5t/w1zTozCH4=';
    m.watchNetwork(
      () => undefined,
      async () => [
        { device: 'flannel-wg', publicKey: key, subnets: ['10.244.2.0/24'], latestHandshake: '2026-01-01T00:00:05.000Z', rxBytes: rx, txBytes: 2000 },
        { device: 'flannel-wg-v6', publicKey: key, subnets: ['fd00:10:244:2::/64'], rxBytes: 0, txBytes: 0 },
      ],
    );
    const labels = `device="flannel-wg",peer="10.244.2.0/24",public_key="${key}"`;
    let text = await m.registry.metrics();
    expect(text).toContain(`flannel_peer_latest_handshake_timestamp_seconds{${labels}} 1767225605`);
    expect(text).toContain(`flannel_peer_receive_bytes_total{${labels}} 1000`);
    expect(text).toContain(`flannel_peer_transmit_bytes_total{${labels}} 2000`);
    // No handshake yet: no sample, rather than a made-up time.
    expect(text).not.toMatch(/flannel_peer_latest_handshake_timestamp_seconds\{device="flannel-wg-v6"/);
    expect(text).toContain('flannel_peer_receive_bytes_total{device="flannel-wg-v6",peer="fd00:10:244:2::/64"');
    rx = 5000;
    text = await m.registry.metrics();
    expect(text).toContain(`flannel_peer_receive_bytes_total{${labels}} 5000`);
    expect(execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', stdio: 'pipe' }).trim()).toBe('');
  });
});

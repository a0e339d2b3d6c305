// npm run bench -- convergence
// One flanneld (etcd, vxlan, Network 100.0.0.0/8 in /24s) and fake peers with PublicIPs from 198.18.0.0/15.
// Cold: N leases exist before flanneld starts; time from spawn until the kernel holds all N routes, and the
// CPU flanneld used until then (all its threads).
// Live: N more leases written while it runs; lag from the last acknowledged write to the last route.
// Memory: RSS and anonymous memory at convergence, and settled (once V8 has given back what the start grew).
// Floor: `node -e 0`'s wall time and an idle node's memory with flanneld's built-in modules, the least any
// Node program here can take, to read version_ms and rss_N_mb against.
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { FLANNEL_ROUTE_PROTOCOL, IP } from '@flannel-ts/core';
import { NetlinkHandle } from '@flannel-ts/core/netlink';
import { cleanupNetns, execIn, ipIn } from '../harness/netns.js';
import { startProcess, stopAllProcesses, stopProcess } from '../harness/processes.js';
import { FLANNELD, Topology } from '../harness/topology.js';

const WRITER = fileURLToPath(new URL('../harness/etcd-lease-writer.js', import.meta.url));
const PREFIX = '/coreos.com/network';
const ROUNDS = 3;
/** How long the idle-CPU figure watches (a minute, as the figure says; BENCH_IDLE_S to shorten a trial run). */
const IDLE_MS = Number(process.env.BENCH_IDLE_S ?? 60) * 1000;
/** How long the 5,000-peer node is left alone before its settled memory is read (see `settled`). */
const SETTLE_MS = Number(process.env.BENCH_SETTLE_S ?? 15) * 1000;
/** Kernel clock ticks per second (/proc/<pid>/stat counts in them); 100 on Linux x86-64. */
const CLOCK_TICKS = 100;

/** The fake peers' subnets: lease i has 100.64.0.0 + (i + 1) * 256 (see etcd-lease-writer.ts). */
const FAKE_SUBNETS_FROM = (100 << 24) | (64 << 16);
const v4 = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const topo = await Topology.create({
    nodes: 1,
    store: 'etcd',
    // Our own lease comes from SubnetMin upwards, away from the fake peers (100.64.1.0/24 onwards; 20,000 reach 100.142).
    netConf: { Network: '100.0.0.0/8', SubnetLen: 24, SubnetMin: '100.250.0.0', Backend: { Type: 'vxlan' } },
    tag: 'bn',
  });
  const node = topo.nodes[0]!;
  const nl = NetlinkHandle.open({ netns: node.ns });
  const storeNs = topo.etcdNs;
  const routeCount = async () => (await nl.routeList(4, { protocol: FLANNEL_ROUTE_PROTOCOL })).length;
  const writeLeases = (first: number, count: number): number =>
    (JSON.parse(execIn(storeNs, 'node', WRITER, topo.etcd!.endpoint, PREFIX, String(first), String(count))) as { doneAt: number }).doneAt;
  /**
   * When the kernel holds the first n fake peers' routes. Listing thousands of routes every few ms would take
   * a core from flanneld on this 2-core box, so each poll asks the kernel for one route, the last peer's
   * (it is programmed with the last batch), and the routes are counted only once that one is there.
   */
  const waitRoutes = async (n: number, timeoutMs = 60_000): Promise<number> => {
    const last = IP.parse(v4(FAKE_SUBNETS_FROM + n * 256 + 1));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      // `ip route get` answers with the way the address goes (not the route's protocol): over flannel.1 once ours is in.
      const route = await nl.routeGet(last).catch(() => undefined);
      const at = Date.now();
      const viaVxlan = route !== undefined && route.linkIndex === (await nl.linkByName('flannel.1'))?.index;
      if (viaVxlan && (await routeCount()) >= n) return at;
      if (at > deadline) throw new Error(`only ${await routeCount()} of ${n} routes after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 2));
    }
  };
  const scrape = (): string => topo.httpGet(node, '/metrics');
  const scrapeLoopMaxMs = (): number => (topo.metric(node, 'nodejs_eventloop_lag_max_seconds') ?? NaN) * 1000;
  const reset = async () => {
    if (node.flanneld) await stopProcess(node.flanneld.child);
    node.flanneld = undefined;
    await topo.etcdctl('del', '--prefix', `${PREFIX}/subnets/`);
    try {
      ipIn(node.ns, 'link', 'del', 'flannel.1');
    } catch {
      // not there yet
    }
  };
  const startFlanneld = () => {
    // As a user runs it: the executable itself (its #! line). BENCH_NODE_FLAGS and BENCH_PROF run it
    // through `node` with those flags instead.
    const nodeFlags = [
      ...(process.env.BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? []),
      ...(process.env.BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF}`] : []),
    ];
    const args = [...topo.flanneldArgs(node), process.env.BENCH_TRACE ? '--log-level=info' : '--log-level=warn'];
    node.flanneld =
      nodeFlags.length > 0 ? startProcess('node', [...nodeFlags, FLANNELD, ...args], { netns: node.ns }) : startProcess(FLANNELD, args, { netns: node.ns });
    return node.flanneld;
  };

  const results: Record<string, string> = {};
  /**
   * Memory once V8 has given back what the start grew: its memory reducer runs some seconds after
   * allocation calms down (measured: anonymous memory halves within 10 s). RSS counts ~45 MB of the node
   * binary's file pages, shared and reclaimable; anonymous memory is what the process itself holds.
   */
  const settled = (n: number) => {
    results[`rss_${n}_settled_mb`] = rssMb(node.flanneld!.child.pid!);
    results[`anon_${n}_settled_mb`] = anonMb(node.flanneld!.child.pid!);
  };
  try {
    results.version_ms = versionMs().toFixed(1);
    await nodeFloor(results);
    for (const n of sizes()) {
      const times: number[] = [];
      const cpu: number[] = [];
      const stalls: number[] = [];
      // 20,000 peers take a while to write and program: one round, as a point on the growth curve.
      for (let round = 0; round < (n > 5000 ? 1 : ROUNDS); round++) {
        await reset();
        writeLeases(0, n);
        const t0 = Date.now();
        startFlanneld();
        times.push((await waitRoutes(n)) - t0);
        // CPU is steadier than wall time on a busy 2-core machine: what a cut saves shows here first.
        const stat = statFields(`/proc/${node.flanneld!.child.pid!}/stat`);
        cpu.push(ownTicks(stat) * (1000 / CLOCK_TICKS));
        // The longest the event loop was held from flanneld's first step until now (the scrape resets it).
        stalls.push(scrapeLoopMaxMs());
        if (process.env.BENCH_TRACE) {
          traceStartup(node.flanneld!.output(), t0);
          console.error(`  CPU until converged: user ${Number(stat[11]) * (1000 / CLOCK_TICKS)} ms, system ${Number(stat[12]) * (1000 / CLOCK_TICKS)} ms`);
          console.error(`  RSS with ${n} peers: ${rssMb(node.flanneld!.child.pid!)} MB`);
        }
      }
      results[`cold_${n}_s`] = (median(times) / 1000).toFixed(3);
      results[`cold_${n}_cpu_ms`] = String(median(cpu));
      results[`start_${n}_loop_max_ms`] = median(stalls).toFixed(1);
      results[`rss_${n}_mb`] = rssMb(node.flanneld!.child.pid!);
      results[`anon_${n}_mb`] = anonMb(node.flanneld!.child.pid!);
      console.error(
        `cold ${n}: ${times.map((t) => `${t} ms`).join(', ')}; CPU ${cpu.map((t) => `${t} ms`).join(', ')}; loop max ${stalls.map((t) => `${t.toFixed(0)} ms`).join(', ')}`,
      );
      if (n === 1000) {
        // The first minute after convergence holds one-time work (V8 compacting the heap the start grew,
        // optimising code); the second is what an idle node spends from then on.
        results.idle_cpu_ms_per_min = (await idleCpuMs(node.flanneld!.child.pid!, IDLE_MS)).toFixed(0);
        results.idle_cpu_2nd_min_ms = (await idleCpuMs(node.flanneld!.child.pid!, IDLE_MS)).toFixed(0);
        settled(n);
      }
      if (n === 5000) {
        await new Promise((r) => setTimeout(r, SETTLE_MS));
        settled(n);
        // flanneld is running with 5,000 peers: 5,000 more, live.
        scrapeLoopMaxMs();
        const lastWrite = writeLeases(5000, 5000);
        const lag = (await waitRoutes(10_000)) - lastWrite;
        if (process.env.BENCH_TRACE) traceStartup(node.flanneld!.output().split('\n').slice(-6).join('\n'), lastWrite);
        results.live_5000_lag_ms = String(lag);
        results.event_loop_max_delay_ms = scrapeLoopMaxMs().toFixed(1);
      }
      // Everything the last flanneld printed (with BENCH_NODE_FLAGS=--trace-gc, V8's lines too), for a closer look.
      if (process.env.BENCH_OUTPUT) writeFileSync(`${process.env.BENCH_OUTPUT}.${n}`, node.flanneld!.output());
    }
    if (process.env.BENCH_TRACE)
      console.error(
        scrape()
          .split('\n')
          .filter((l) => /^(nodejs_heap_size|nodejs_external|process_resident|nodejs_heap_space_size_used_bytes)/.test(l))
          .join('\n'),
      );
    for (const [k, v] of Object.entries(results)) console.log(`RESULT ${k}=${v}`);
  } finally {
    nl.close();
    await topo.destroy();
    await stopAllProcesses();
    cleanupNetns();
  }
}

/** The peer counts to measure: 1,000, 5,000 and 20,000, or BENCH_SIZES (e.g. "1000"); BENCH_SKIP_20K drops the last. */
function sizes(): number[] {
  if (process.env.BENCH_SIZES) return process.env.BENCH_SIZES.split(',').map(Number);
  return [1000, 5000, ...(process.env.BENCH_SKIP_20K ? [] : [20_000])];
}

/** `flanneld --version`, run as a user would (the executable): the median wall time of 10. */
function versionMs(): number {
  return medianRunMs(FLANNELD, ['--version']);
}

/** Wall time of a command that exits at once, median of 10 runs. */
function medianRunMs(cmd: string, args: string[]): number {
  const times: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t0 = performance.now();
    execFileSync(cmd, args, { stdio: 'ignore' });
    times.push(performance.now() - t0);
  }
  return median(times);
}

/** The built-in modules flanneld loads before its first peer (etcd's client, the rules, health, metrics). */
const BUILTINS = ['http', 'http2', 'tls', 'crypto', 'net', 'child_process', 'perf_hooks', 'fs/promises', 'timers/promises'];

/**
 * The runtime's own floor on this machine, to read version_ms and rss_N_mb against: `node -e 0`'s wall
 * time, and the memory of an idle `node` that has loaded only the built-in modules flanneld needs.
 */
async function nodeFloor(results: Record<string, string>): Promise<void> {
  results.node_floor_ms = medianRunMs(process.execPath, ['-e', '0']).toFixed(1);
  const script = `${BUILTINS.map((m) => `require('node:${m}');`).join('')} process.stdout.write('ready'); setInterval(() => {}, 1e6);`;
  const child = spawn(process.execPath, ['--max-semi-space-size=4', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.once('data', () => resolve());
      child.once('exit', (code) => reject(new Error(`the idle node exited (${code}) before it was ready`)));
    });
    results.node_floor_rss_mb = rssMb(child.pid!);
    results.node_floor_anon_mb = anonMb(child.pid!);
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill();
      await exited;
    }
  }
}

/** CPU (user + system) the process uses over `ms` of doing nothing new, scaled to a minute. */
async function idleCpuMs(pid: number, ms: number): Promise<number> {
  const scale = (1000 / CLOCK_TICKS) * (60_000 / ms);
  const before = statFields(`/proc/${pid}/stat`);
  const threadsBefore = process.env.BENCH_TRACE ? threadTicks(pid) : undefined;
  await new Promise((r) => setTimeout(r, ms));
  const after = statFields(`/proc/${pid}/stat`);
  if (threadsBefore) {
    // Which threads used it: the main thread (JavaScript), V8's GC helpers, libuv's pool, workers.
    for (const [name, t] of threadTicks(pid)) {
      const used = (t - (threadsBefore.get(name) ?? 0)) * scale;
      if (used > 0) console.error(`  idle CPU of threads ${name}: ${used.toFixed(0)} ms/min`);
    }
    const children = (childTicks(after) - childTicks(before)) * scale;
    console.error(`  idle CPU of the processes it ran and reaped (iptables-save, ...): ${children.toFixed(0)} ms/min`);
  }
  return (ownTicks(after) - ownTicks(before)) * scale;
}

/** The fields of a /proc stat line after the command name (which may hold spaces and parentheses): state first. */
function fieldsOf(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
}
const statFields = (path: string) => fieldsOf(readFileSync(path, 'utf8'));

/** CPU ticks (user + system) of the process or thread itself, and of its reaped children. */
const ownTicks = (f: string[]) => Number(f[11]) + Number(f[12]);
const childTicks = (f: string[]) => Number(f[13]) + Number(f[14]);

/** CPU ticks (user + system) of a process's threads, summed by thread name (the main thread apart). */
function threadTicks(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      // Node names few of its threads: the main thread is the one whose id is the process's.
      const name = tid === String(pid) ? `${comm} (main)` : comm;
      out.set(name, (out.get(name) ?? 0) + ownTicks(fieldsOf(stat)));
    } catch {
      // the thread ended
    }
  }
  return out;
}

const statusMb = (pid: number, field: string): string =>
  (Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024).toFixed(1);
const rssMb = (pid: number) => statusMb(pid, 'VmRSS');
const anonMb = (pid: number) => statusMb(pid, 'RssAnon');

/** With BENCH_TRACE=1: when each startup step logged, relative to the spawn. */
function traceStartup(output: string, t0: number): void {
  for (const line of output.trim().split('\n')) {
    try {
      const e = JSON.parse(line) as { time: number | string; msg: string; ms?: number; netlinkMs?: number };
      const at = typeof e.time === 'string' ? Date.parse(e.time) : e.time;
      console.error(
        `  +${at - t0} ms ${e.msg}${e.ms !== undefined ? ` (took ${e.ms} ms${e.netlinkMs !== undefined ? `, netlink ${e.netlinkMs} ms` : ''})` : ''}`,
      );
    } catch {
      // not a log line
    }
  }
}

await main();

// npm run bench -- convergence
// One flanneld (etcd, vxlan, Network 100.64.0.0/10 in /24s) and fake peers with PublicIPs from 198.18.0.0/15.
// Cold: N leases exist before flanneld starts; time from spawn until the kernel holds all N routes.
// Live: N more leases written while it runs; lag from the last acknowledged write to the last route.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { FLANNEL_ROUTE_PROTOCOL } from '@flannel-ts/core';
import { NetlinkHandle } from '@flannel-ts/core/netlink';
import { cleanupNetns, execIn, ipIn } from '../harness/netns.js';
import { startProcess, stopAllProcesses, stopProcess } from '../harness/processes.js';
import { FLANNELD, Topology } from '../harness/topology.js';

const WRITER = fileURLToPath(new URL('../harness/etcd-lease-writer.js', import.meta.url));
const PREFIX = '/coreos.com/network';
const ROUNDS = 3;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const topo = await Topology.create({
    nodes: 1,
    store: 'etcd',
    // Our own lease comes from SubnetMin upwards, away from the fake peers' 100.64-100.103 range.
    netConf: { Network: '100.64.0.0/10', SubnetLen: 24, SubnetMin: '100.120.0.0', Backend: { Type: 'vxlan' } },
    tag: 'bn',
  });
  const node = topo.nodes[0]!;
  const nl = NetlinkHandle.open({ netns: node.ns });
  const storeNs = topo.etcdNs;
  const routeCount = async () => (await nl.routeList(4, { protocol: FLANNEL_ROUTE_PROTOCOL })).length;
  const writeLeases = (first: number, count: number): number =>
    (JSON.parse(execIn(storeNs, 'node', WRITER, topo.etcd!.endpoint, PREFIX, String(first), String(count))) as { doneAt: number }).doneAt;
  const waitRoutes = async (n: number, timeoutMs = 60_000): Promise<number> => {
    const deadline = Date.now() + timeoutMs;
    while ((await routeCount()) < n) {
      if (Date.now() > deadline) throw new Error(`only ${await routeCount()} of ${n} routes after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 2));
    }
    return Date.now();
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
    node.flanneld = startProcess('node', [...(process.env.BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? []), ...(process.env.BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF}`] : []), FLANNELD, ...topo.flanneldArgs(node), process.env.BENCH_TRACE ? '--log-level=info' : '--log-level=warn'], { netns: node.ns });
    return node.flanneld;
  };

  try {
    const results: Record<string, string> = {};
    for (const n of [1000, 5000]) {
      const times: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        await reset();
        writeLeases(0, n);
        const t0 = Date.now();
        startFlanneld();
        times.push((await waitRoutes(n)) - t0);
        if (process.env.BENCH_TRACE) {
          traceStartup(node.flanneld!.output(), t0);
          console.error(`  RSS with ${n} peers: ${rssMb(node.flanneld!.child.pid!)} MB`);
        }
      }
      results[`cold_${n}_s`] = (median(times) / 1000).toFixed(3);
      console.error(`cold ${n}: ${times.map((t) => `${t} ms`).join(', ')}`);
    }
    // flanneld is running with 5,000 peers: its RSS, then 5,000 more, live.
    results.rss_5000_mb = rssMb(node.flanneld!.child.pid!);
    if (process.env.BENCH_TRACE) console.error(scrape().split('\n').filter((l) => /^(nodejs_heap_size|nodejs_external|process_resident|nodejs_heap_space_size_used_bytes)/.test(l)).join('\n'));
    scrapeLoopMaxMs();
    const lastWrite = writeLeases(5000, 5000);
    const lag = (await waitRoutes(10_000)) - lastWrite;
    if (process.env.BENCH_TRACE) traceStartup(node.flanneld!.output().split('\n').slice(-6).join('\n'), lastWrite);
    const loopMax = scrapeLoopMaxMs();
    results.live_5000_lag_ms = String(lag);
    results.event_loop_max_delay_ms = loopMax.toFixed(1);
    for (const [k, v] of Object.entries(results)) console.log(`RESULT ${k}=${v}`);
  } finally {
    nl.close();
    await topo.destroy();
    await stopAllProcesses();
    cleanupNetns();
  }
}


function rssMb(pid: number): string {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
  return (kb / 1024).toFixed(1);
}

/** With BENCH_TRACE=1: when each startup step logged, relative to the spawn. */
function traceStartup(output: string, t0: number): void {
  for (const line of output.trim().split('\n')) {
    try {
      const e = JSON.parse(line) as { time: number; msg: string; ms?: number; netlinkMs?: number };
      console.error(`  +${e.time - t0} ms ${e.msg}${e.ms !== undefined ? ` (took ${e.ms} ms${e.netlinkMs !== undefined ? `, netlink ${e.netlinkMs} ms` : ''})` : ''}`);
    } catch {
      // not a log line
    }
  }
}

await main();

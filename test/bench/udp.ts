// npm run bench -- udp
// Pod-to-pod TCP throughput over the udp backend and over host-gw, in the same run on the same namespaces and
// pods: two nodes (embedded store), one pod each; iperf3 for 5 s, 3 runs per backend, medians reported.
// During the udp runs: CPU of each node's flanneld (the sender's and the receiver's), the worst event-loop
// delay flanneld's own monitor saw (/metrics, reset by the scrape before each run), and the slowest /healthz
// answer to a probe asking every 100 ms. Then the nodes switch to host-gw (same leases, so the pods keep
// their addresses) and iperf3 runs again. The machine's load average is printed at the start and the end:
// on a shared 2-core box the figures move with it.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cleanupNetns, execIn, ipIn } from '../harness/netns.js';
import { startProcess, stopAllProcesses, stopProcess, waitForOutput, type Started } from '../harness/processes.js';
import { HEALTHZ_PORT, Topology, type TopologyNode } from '../harness/topology.js';
import { waitFor } from '../harness/wait.js';

const RUNS = 3;
const SECONDS = 5;
const CLOCK_TICKS = 100;
const PROBE = fileURLToPath(new URL('../harness/healthz-probe.js', import.meta.url));

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const cpuTicks = (pid: number) =>
  readFileSync(`/proc/${pid}/stat`, 'utf8')
    .split(') ')[1]!
    .split(' ')
    .slice(11, 13)
    .reduce((a, t) => a + Number(t), 0);

/** Per thread of a process: CPU time, time spent runnable but waiting for a CPU, and how many times it ran (ns, ns, n). */
interface ThreadTimes {
  comm: string;
  nice: number;
  cpuNs: number;
  waitNs: number;
  slices: number;
}
function threadTimes(pid: number): Map<number, ThreadTimes> {
  const out = new Map<number, ThreadTimes>();
  for (const tid of readdirSync(`/proc/${pid}/task`).map(Number)) {
    try {
      const [cpuNs, waitNs, slices] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').trim().split(' ').map(Number) as [number, number, number];
      // stat's fields after the command: state is the first, nice the 17th.
      const nice = Number(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ')[16]);
      out.set(tid, { comm: readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim(), nice, cpuNs, waitNs, slices });
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}
/**
 * Where flanneld's threads spent a run: the main thread (the event loop) and the busiest other one (the
 * udp worker), each as CPU ms, ms spent waiting for a CPU while runnable, and that wait per time it ran.
 */
function threadReport(pid: number, before: Map<number, ThreadTimes>): { main: string; worker: string; mainWaitPerRunMs: number } {
  const after = threadTimes(pid);
  const delta = (tid: number) => {
    const a = after.get(tid)!;
    const b = before.get(tid) ?? { cpuNs: 0, waitNs: 0, slices: 0 };
    return { comm: a.comm, nice: a.nice, cpuMs: (a.cpuNs - b.cpuNs) / 1e6, waitMs: (a.waitNs - b.waitNs) / 1e6, runs: a.slices - b.slices };
  };
  const fmt = (d: ReturnType<typeof delta>) => `${d.comm} (nice ${d.nice}): cpu ${d.cpuMs.toFixed(0)} ms, waited ${d.waitMs.toFixed(0)} ms over ${d.runs} runs`;
  const main = delta(pid);
  const others = [...after.keys()].filter((t) => t !== pid).map(delta);
  const worker = others.sort((a, b) => b.cpuMs - a.cpuMs)[0]!;
  return { main: fmt(main), worker: fmt(worker), mainWaitPerRunMs: main.runs > 0 ? main.waitMs / main.runs : 0 };
}

interface Run {
  gbps: number;
  retransmits: number;
  cpuPct?: [number, number];
  loopMaxMs?: number;
  healthzMaxMs?: number;
  /** The sender's event-loop thread: ms it waited for a CPU per time it ran. */
  mainWaitPerRunMs?: number;
}

async function main(): Promise<void> {
  const netConf = (type: string) => ({ Network: '10.244.0.0/16', Backend: { Type: type } });
  const topo = await Topology.create({ nodes: 2, store: 'embedded', netConf: netConf('udp'), tag: 'bu' });
  const [n1, n2] = topo.nodes as [TopologyNode, TopologyNode];
  const results: Record<string, string> = {};
  let server: Started | undefined;
  try {
    console.error(`load average at start: ${loadavg()}`);
    results.load_start = loadavg().split(' ')[0]!;
    await topo.up(['--ip-masq']);
    const [p1, p2] = [n1.pods[0]!, n2.pods[0]!];
    server = startProcess('iperf3', ['-s', '-B', p2.ip], { netns: p2.ns });
    if (!(await waitFor(() => execIn(p2.ns, 'ss', '-Hltn', 'sport = :5201').trim() !== '', 30_000))) throw new Error('iperf3 server did not start');
    if (!(await waitFor(() => topo.ping(p1, p2), 30_000, 100))) throw new Error('no traffic over udp');

    const iperf = (): { gbps: number; retransmits: number } => {
      const out = JSON.parse(execIn(p1.ns, 'iperf3', '-c', p2.ip, '-t', String(SECONDS), '-J')) as {
        end: { sum_received: { bits_per_second: number }; sum_sent: { retransmits: number } };
      };
      return { gbps: out.end.sum_received.bits_per_second / 1e9, retransmits: out.end.sum_sent.retransmits };
    };
    const loopMaxMs = (n: TopologyNode) => (topo.metric(n, 'nodejs_eventloop_lag_max_seconds') ?? NaN) * 1000;

    // The same measure with no traffic: what the machine's load alone does to flanneld's event loop.
    loopMaxMs(n1);
    loopMaxMs(n2);
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    results.event_loop_max_delay_idle_ms = Math.max(loopMaxMs(n1), loopMaxMs(n2)).toFixed(1);
    console.error(`no traffic for ${SECONDS} s: event loop max ${results.event_loop_max_delay_idle_ms} ms (load ${loadavg()})`);

    const udp: Run[] = [];
    for (let i = 0; i < RUNS; i++) {
      loopMaxMs(n1);
      loopMaxMs(n2);
      const pids = [n1.flanneld!.child.pid!, n2.flanneld!.child.pid!];
      const probe = startProcess('node', [PROBE, `http://127.0.0.1:${HEALTHZ_PORT}/healthz`, '100'], { netns: n1.ns });
      await waitForOutput(probe, (o) => o.includes('probing'), 30_000, '/healthz probe');
      const before = pids.map(cpuTicks);
      const threadsBefore = threadTimes(pids[0]!);
      const t0 = performance.now();
      const r: Run = iperf();
      const seconds = (performance.now() - t0) / 1000;
      const threads = threadReport(pids[0]!, threadsBefore);
      r.cpuPct = pids.map((pid, k) => ((cpuTicks(pid) - before[k]!) / CLOCK_TICKS / seconds) * 100) as [number, number];
      await stopProcess(probe.child, 2000);
      const probed = /max_ms=(\S+) answers=(\d+) failures=(\d+)/.exec(probe.stdout());
      r.healthzMaxMs = probed ? Number(probed[1]) : NaN;
      if (probed && Number(probed[3]) > 0) console.error(`  /healthz failed ${probed[3]} times of ${Number(probed[2]) + Number(probed[3])}`);
      r.loopMaxMs = Math.max(loopMaxMs(n1), loopMaxMs(n2));
      udp.push(r);
      console.error(
        `udp run ${i + 1}: ${r.gbps.toFixed(3)} Gbit/s, ${r.retransmits} retransmits, flanneld CPU ${r.cpuPct.map((c) => c.toFixed(0)).join('% / ')}%, ` +
          `event loop max ${r.loopMaxMs.toFixed(1)} ms, /healthz max ${r.healthzMaxMs} ms (load ${loadavg()})`,
      );
      console.error(`  sender's threads: ${threads.main}; ${threads.worker}`);
      r.mainWaitPerRunMs = threads.mainWaitPerRunMs;
    }
    const status = JSON.parse(topo.httpGet(n1, '/debug/status').replace(/^200 /, '')) as { network?: { details?: Record<string, unknown> } };
    console.error(`sender's udp details after the runs: ${JSON.stringify(status.network?.details)}`);

    // The same nodes and pods over host-gw: stop flanneld, drop flannel0, switch the net-conf, start again.
    for (const n of topo.nodes) {
      await topo.stopFlanneld(n);
      ipIn(n.ns, 'link', 'del', 'flannel0');
    }
    writeFileSync(topo.netConfPath, JSON.stringify(netConf('host-gw')));
    await Promise.all(topo.nodes.map((n) => topo.startFlanneld(n, ['--ip-masq'])));
    await topo.waitConverged();
    if (!(await waitFor(() => topo.ping(p1, p2), 30_000, 100))) throw new Error('no traffic over host-gw');
    const hostgw: Run[] = [];
    for (let i = 0; i < RUNS; i++) {
      const r = iperf();
      hostgw.push(r);
      console.error(`host-gw run ${i + 1}: ${r.gbps.toFixed(3)} Gbit/s, ${r.retransmits} retransmits (load ${loadavg()})`);
    }

    const udpGbps = median(udp.map((r) => r.gbps));
    const hostgwGbps = median(hostgw.map((r) => r.gbps));
    results.udp_gbps = udpGbps.toFixed(3);
    results.hostgw_gbps = hostgwGbps.toFixed(3);
    results.udp_vs_hostgw_ratio = (udpGbps / hostgwGbps).toFixed(3);
    results.udp_retransmits = String(median(udp.map((r) => r.retransmits)));
    results.flanneld_cpu_pct_sender = median(udp.map((r) => r.cpuPct![0])).toFixed(0);
    results.flanneld_cpu_pct_receiver = median(udp.map((r) => r.cpuPct![1])).toFixed(0);
    results.event_loop_max_delay_ms = Math.max(...udp.map((r) => r.loopMaxMs!)).toFixed(1);
    results.healthz_max_ms = Math.max(...udp.map((r) => r.healthzMaxMs!)).toFixed(1);
    results.event_loop_thread_cpu_wait_per_run_ms = median(udp.map((r) => r.mainWaitPerRunMs!)).toFixed(2);
    results.load_end = loadavg().split(' ')[0]!;
    console.error(`load average at the end: ${loadavg()}`);
    for (const [k, v] of Object.entries(results)) console.log(`RESULT ${k}=${v}`);
  } finally {
    if (server) await stopProcess(server.child, 2000);
    await topo.destroy();
    await stopAllProcesses();
    cleanupNetns();
  }
}

main().catch((err: Error) => {
  console.error(`bench udp: ${err.stack ?? err.message}`);
  process.exit(1);
});

// Shared by the chaos suites (test/chaos/*.test.ts): the clusters they start from, measured figures, helper
// processes inside namespaces, and flanneld started in ways the topology does not (a private mount namespace,
// expecting it to fail).
import { afterAll, beforeAll, beforeEach } from '@jest/globals';
import { appendFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { execIn, ipJson, sh } from '../harness/netns.js';
import { startProcess, stopProcess, waitForOutput, type Started } from '../harness/processes.js';
import { FLANNELD, HEALTHZ_PORT, tearDown, Topology, type TopologyNode, type TopologyOptions } from '../harness/topology.js';
import { DEADLINE } from '../harness/wait.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
export const ETCD_TOOL = join(FIXTURES, 'etcd-tool.mjs');
const POLLER = join(FIXTURES, 'healthz-poller.mjs');
/** Every RESULT line of a run is also appended here, so that the figures survive jest's output handling. */
export const RESULTS_FILE = join(dirname(FIXTURES), '..', '..', '.cache', 'chaos-results.txt');

/** The network most suites run: vxlan over 10.244.0.0/16, /24 per node. */
export const VXLAN_NET_CONF = { Network: '10.244.0.0/16', Backend: { Type: 'vxlan' } };

type Nodes3 = [TopologyNode, TopologyNode, TopologyNode];

/**
 * Three nodes, flanneld running with a pod on node1 and node2; node3 is left to the test (a node that joins
 * while something is broken). Returns the topology and its three nodes.
 */
export async function twoOfThreeRunning(opts: Omit<TopologyOptions, 'nodes'>): Promise<{ topo: Topology; nodes: Nodes3 }> {
  const topo = await Topology.create({ ...opts, nodes: 3 });
  const nodes = topo.nodes as Nodes3;
  await Promise.all([topo.startFlanneld(nodes[0]), topo.startFlanneld(nodes[1])]);
  topo.addPod(nodes[0]);
  topo.addPod(nodes[1]);
  return { topo, nodes };
}

/**
 * The hooks of a suite whose every case starts from the store up and flanneld converged on every node,
 * whatever the case before it left: the topology is made and brought up once (`created` gets it before it
 * starts), restored before each case, and torn down after the last.
 */
export function convergedForEachCase(opts: TopologyOptions, created: (topo: Topology) => void): void {
  let topo: Topology | undefined;
  beforeAll(async () => {
    topo = await Topology.create(opts);
    created(topo);
    await topo.up();
  }, DEADLINE.setupMs);
  beforeEach(async () => {
    await topo!.restore();
    await topo!.waitConverged();
  }, DEADLINE.setupMs);
  afterAll(() => tearDown([topo]));
}

/** Prints a measured figure as `RESULT key=value` on stdout (and appends it to RESULTS_FILE). */
export function result(key: string, value: number | string): void {
  const line = `RESULT ${key}=${typeof value === 'number' ? Math.round(value) : value}\n`;
  process.stdout.write(line);
  try {
    mkdirSync(dirname(RESULTS_FILE), { recursive: true });
    appendFileSync(RESULTS_FILE, line);
  } catch {
    // the figure is on stdout anyway
  }
}

/** Runs the etcd tool (fixtures/etcd-tool.mjs) in the store namespace and returns its JSON answer. */
export function etcdTool<T>(topo: Topology, ...args: string[]): T {
  return JSON.parse(
    execIn(topo.etcdNs, 'node', ETCD_TOOL, args[0]!, topo.etcdEndpoints, ...args.slice(1))
      .trim()
      .split('\n')
      .pop()!,
  ) as T;
}

export interface Poll {
  at: number;
  ms: number;
  status: number;
  lagMs: number;
  /** CPU time flanneld's main thread used while this poll waited (10 ms resolution), when its PID was known. */
  cpuMs: number;
}

/** Polls the node's /healthz back to back from inside its namespace; polls() reads the answers so far, stop() ends it. */
export function pollHealthz(node: TopologyNode, intervalMs = 20): { polls(): Poll[]; stop(): Promise<Poll[]>; started: Promise<void> } {
  const pid = node.flanneld?.child.pid;
  // At real-time priority (SCHED_FIFO; it sleeps between polls), so that on a loaded machine the poller reads
  // an answer, and flanneld's CPU time, as soon as the answer comes: what it measures is flanneld's delay.
  const args = ['-f', '10', 'node', POLLER, `http://127.0.0.1:${HEALTHZ_PORT}/healthz`, String(intervalMs), ...(pid ? [String(pid)] : [])];
  const p = startProcess('chrt', args, { netns: node.ns });
  const started = waitForOutput(p, (o) => o.includes('"status":200'), DEADLINE.readyMs, 'the first /healthz answer');
  const polls = (): Poll[] =>
    p
      .stdout()
      .split('\n')
      .filter((l) => l.startsWith('{') && l.endsWith('}'))
      .map((l) => JSON.parse(l) as Poll);
  return {
    started,
    polls,
    async stop() {
      await stopProcess(p.child);
      await p.closed;
      return polls();
    },
  };
}

/** flannel_peers{state=...} from the node's /metrics: peer leases programmed, partly programmed, or skipped. */
export function peers(topo: Topology, node: TopologyNode, state: 'programmed' | 'partial' | 'skipped'): number | undefined {
  const m = new RegExp(`^flannel_peers\\{state="${state}"\\} (\\S+)$`, 'm').exec(topo.httpGet(node, '/metrics'));
  return m ? Number(m[1]) : undefined;
}

export function percentile(xs: number[], p: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;
}

/** Our routes (proto 70) in the node, by destination. */
export function flannelRoutes(node: TopologyNode): string[] {
  return ipJson<{ dst: string }[]>(node.ns, 'route', 'show', 'proto', '70').map((r) => r.dst);
}

/** The JSON log lines flanneld wrote so far, parsed. */
export function logLines(p: Started): { level: number; msg: string; [k: string]: unknown }[] {
  return p
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as { level: number; msg: string }];
      } catch {
        return [];
      }
    });
}

/** Resolves when flanneld has logged a line for which `match` holds. */
export function waitForLog(
  p: Started,
  match: (line: { msg: string; [k: string]: unknown }) => boolean,
  what: string,
  timeoutMs: number = DEADLINE.convergeMs,
): Promise<void> {
  return waitForOutput(p, () => logLines(p).some(match), timeoutMs, what);
}

/**
 * A private mount namespace in which `dir` is a tmpfs of `sizeKb` KiB: a small disk that can fill up or go
 * read-only without touching the host. Nobody outside sees it; a `sleep` holds it until stop(). run() runs a
 * command in it, startFlanneld() starts flanneld in it (inside the node's network namespace).
 */
export async function tinyDisk(
  dir: string,
  sizeKb: number,
): Promise<{
  run(cmd: string, ...args: string[]): string;
  startFlanneld(topo: Topology, node: TopologyNode, extra?: string[]): Started;
  stop(): Promise<void>;
}> {
  mkdirSync(dir, { recursive: true });
  const holder = startProcess('unshare', [
    '--mount',
    '--propagation',
    'private',
    'sh',
    '-c',
    `mount -t tmpfs -o size=${sizeKb}k,mode=0755 tmpfs '${dir}' && echo mounted && exec sleep 100000`,
  ]);
  await waitForOutput(holder, (o) => o.includes('mounted'), DEADLINE.readyMs, 'the tmpfs');
  const pid = String(holder.child.pid);
  return {
    run: (cmd, ...args) => sh('nsenter', ['-t', pid, '-m', '--', cmd, ...args]),
    startFlanneld(topo, node, extra = []) {
      node.flanneld = startProcess('nsenter', ['-t', pid, '-m', '--', 'ip', 'netns', 'exec', node.ns, 'node', FLANNELD, ...topo.flanneldArgs(node), ...extra]);
      return node.flanneld;
    },
    async stop() {
      await stopProcess(holder.child);
    },
  };
}

/**
 * How much longer than its CPU time a CPU-bound process takes on this machine right now: the wall time of a
 * 100 ms busy loop over its CPU time (about 1 on an idle machine, 3 or more beside stress-ng). A stall of the
 * event loop is CPU work, so a bound on it is a bound on CPU time times this factor.
 */
export function cpuContention(): number {
  const js =
    'const t=performance.now(),c=process.cpuUsage();for(;;){const u=process.cpuUsage(c);if(u.user+u.system>=1e5)break}console.log((performance.now()-t)/100)';
  return Math.max(1, Number(sh('node', ['-e', js]).trim()));
}

/** Milliseconds since `t0`, for RESULT lines. */
export const since = (t0: number): number => Date.now() - t0;

// Failure 1 of issue 19: after 5,000 peers were removed at once, reconciles ran back to back and starved the
// event loop for minutes; /healthz stopped answering. Here one flanneld (etcd, vxlan) gets 5,000 fake peers on
// one etcd lease, then the lease is revoked, while a poller inside the node asks /healthz every 20 ms and
// reads how much CPU flanneld's main thread used before each answer.
import { jest } from '@jest/globals';
import { sh } from '../harness/netns.js';
import { tearDown, Topology } from '../harness/topology.js';
import { DEADLINE, waitFor } from '../harness/wait.js';
import { cpuContention, etcdTool, flannelRoutes, percentile, pollHealthz, result, type Poll } from './chaos.js';

jest.setTimeout(DEADLINE.setupMs);

const PEERS = 5000;
/** Issue 19's target: no more than 100 ms of event-loop work before /healthz answers (see the test). */
const CPU_BOUND_MS = 100;
const PREFIX = '/coreos.com/network';
let topo: Topology;

beforeAll(async () => {
  topo = await Topology.create({
    nodes: 1,
    store: 'etcd',
    // Our own lease comes from SubnetMin upwards, away from the fake peers' 100.64-100.83 range.
    netConf: { Network: '100.64.0.0/10', SubnetLen: 24, SubnetMin: '100.120.0.0', Backend: { Type: 'vxlan' } },
    tag: 'mr',
  });
  await topo.up();
}, DEADLINE.setupMs);

afterAll(() => tearDown([topo]));

const fdbCount = (ns: string) =>
  sh('bridge', ['-n', ns, 'fdb', 'show', 'dev', 'flannel.1'])
    .split('\n')
    .filter((l) => l.includes(' dst 198.18.')).length;

function summarize(name: string, polls: Poll[]): { max: number; cpu: number; polls: number; failed: Poll[] } {
  const ms = polls.map((p) => p.ms);
  result(`${name}_healthz_polls`, polls.length);
  result(`${name}_healthz_p50_ms`, percentile(ms, 50));
  result(`${name}_healthz_p99_ms`, percentile(ms, 99));
  result(`${name}_healthz_max_ms`, Math.max(...ms));
  result(`${name}_poller_max_lag_ms`, Math.max(...polls.map((p) => p.lagMs)));
  const cpu = Math.max(...polls.map((p) => p.cpuMs));
  result(`${name}_healthz_max_cpu_ms`, cpu);
  return { max: Math.max(...ms), cpu, polls: polls.length, failed: polls.filter((p) => p.status !== 200) };
}

describe('5,000 peers added, then removed at once (etcd lease revoked)', () => {
  it('answers every /healthz poll in time, after a bounded amount of event-loop work, and the kernel converges both ways', async () => {
    const node = topo.nodes[0]!;
    const contention = [cpuContention()];
    const adding = pollHealthz(node);
    await adding.started;
    topo.metric(node, 'nodejs_eventloop_lag_max_seconds'); // reset at each scrape: from here on
    const { lease, doneAt: filled } = etcdTool<{ lease: string; doneAt: number }>(topo, 'fill', PREFIX, '100.64.0.0', String(PEERS));
    expect(await waitFor(() => flannelRoutes(node).length === PEERS, DEADLINE.convergeMs * 2, 50)).toBe(true);
    result('mass_add_5000_converge_ms', Date.now() - filled);
    expect(fdbCount(node.ns)).toBe(PEERS);
    const add = summarize('mass_add', await adding.stop());
    result('mass_add_eventloop_max_ms', topo.metric(node, 'nodejs_eventloop_lag_max_seconds')! * 1000);

    contention.push(cpuContention());
    const removing = pollHealthz(node);
    await removing.started;
    topo.metric(node, 'nodejs_eventloop_lag_max_seconds');
    const { doneAt: revoked } = etcdTool<{ doneAt: number }>(topo, 'revoke', lease);
    expect(await waitFor(() => flannelRoutes(node).length === 0, DEADLINE.convergeMs * 2, 50)).toBe(true);
    result('mass_removal_5000_converge_ms', Date.now() - revoked);
    expect(await waitFor(() => fdbCount(node.ns) === 0, DEADLINE.convergeMs)).toBe(true);
    // Twenty more polls after the kernel is clean: whatever the removal left queued must not stall them either.
    const answered = removing.polls().length;
    expect(await waitFor(() => removing.polls().length >= answered + 20, DEADLINE.convergeMs)).toBe(true);
    const removal = summarize('mass_removal', await removing.stop());
    result('mass_removal_eventloop_max_ms', topo.metric(node, 'nodejs_eventloop_lag_max_seconds')! * 1000);
    contention.push(cpuContention());

    // What a kubelet sees: every poll answered within its default probe timeout (1 s), times the CPU contention
    // measured around each phase (a CPU-bound process's wall time over its CPU time: about 1 when idle). What
    // the event loop did: the CPU time flanneld's main thread spent before each answer, at most issue 19's
    // 100 ms. It was 40-210 ms before the engine and the subnet manager worked in slices; since, 10-60 ms at
    // worst per run on a shared 2-core machine, also beside `stress-ng --cpu 4` (the RESULT lines report it).
    const factor = Math.max(...contention);
    result('cpu_contention_x100', factor * 100);
    for (const phase of [add, removal]) {
      expect(phase.failed).toEqual([]);
      expect(phase.polls).toBeGreaterThan(20);
      expect(phase.cpu).toBeLessThanOrEqual(CPU_BOUND_MS);
      expect(phase.max).toBeLessThan(1000 * factor);
    }
    expect(topo.isRunning(node)).toBe(true);
    expect(topo.httpGet(node, '/readyz')).toMatch(/^200 /);
  });
});

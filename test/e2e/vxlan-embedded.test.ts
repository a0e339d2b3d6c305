// vxlan on the embedded store, 3 nodes, the real flanneld CLI in each node namespace.
import { jest } from '@jest/globals';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { startProcess, waitForOutput } from '../harness/processes.js';
import { FLANNELD, tearDown, Topology } from '../harness/topology.js';
import { DEADLINE, waitFor } from '../harness/wait.js';

jest.setTimeout(DEADLINE.testMs);

const NET_CONF = { Network: '10.244.0.0/16', Backend: { Type: 'vxlan' } };
let topo: Topology;

beforeAll(async () => {
  topo = await (await Topology.create({ nodes: 3, store: 'embedded', netConf: NET_CONF, tag: 'em' })).up();
}, DEADLINE.setupMs);

// Whatever a case stopped or removed comes back, so that each starts from a running, converged cluster.
beforeEach(async () => {
  if (!existsSync(topo.netConfPath)) writeFileSync(topo.netConfPath, JSON.stringify(NET_CONF));
  await topo.restore();
  await topo.waitConverged();
}, DEADLINE.setupMs);

afterAll(() => tearDown([topo]));

describe('vxlan on the embedded store, 3 nodes', () => {
  it('gives every node its own subnet, and every pod pair pings', () => {
    const subnets = topo.nodes.map((n) => topo.subnetEnv(n).FLANNEL_SUBNET);
    expect(new Set(subnets).size).toBe(3);
    const matrix = topo.pingMatrix();
    expect(matrix.filter((p) => !p.ok).map((p) => `${p.from.ip} -> ${p.to.ip}`)).toEqual([]);
    expect(matrix).toHaveLength(6);
  });

  it(
    'serves /healthz at once and /readyz only once it is ready; a missing config is retried every second',
    async () => {
      const t = topo;
      const n = t.nodes[0]!;
      await t.stopFlanneld(n);
      rmSync(t.netConfPath);
      const get = (path: string) => t.httpGet(n, path);
      const p = startProcess('node', [FLANNELD, ...t.flanneldArgs(n)], { netns: n.ns });
      n.flanneld = p;
      await waitForOutput(p, (o) => o.includes('waiting for the network config'), DEADLINE.readyMs, 'config retry');
      expect(get('/healthz')).toBe('200 flanneld is running');
      expect(get('/readyz?verbose')).toMatch(/^503 not ready: store ok, lease failed \(no lease yet \(waiting for the network config\)\), /);
      expect(p.output()).toContain('--net-config-path: cannot read');
      writeFileSync(t.netConfPath, JSON.stringify(NET_CONF));
      await waitForOutput(p, (o) => o.includes('flannel is ready'), DEADLINE.readyMs, 'ready');
      expect(get('/readyz?verbose')).toBe('200 ready: store ok, lease ok, subnetEnv ok, backend ok, peersSynced ok, rules ok');
      expect(get('/metrics')).toMatch(/^200 [\s\S]*flannel_ready 1/);
      expect(t.metric(n, 'flannel_peers{state="programmed"}')).toBe(2);
      expect(await waitFor(() => t.pingMatrix().every((m) => m.ok), DEADLINE.convergeMs)).toBe(true);
    },
    DEADLINE.setupMs,
  );
});

import { rmSync, writeFileSync } from 'node:fs';
import { cleanupNetns } from '../harness/netns.js';
import { startProcess, stopAllProcesses, waitForOutput } from '../harness/processes.js';
import { FLANNELD } from '../harness/topology.js';
import { waitFor } from '../harness/wait.js';
import { Topology } from '../harness/topology.js';

const NET_CONF = { Network: '10.244.0.0/16', Backend: { Type: 'vxlan' } };
let topo: Topology | undefined;

afterAll(async () => {
  await topo?.destroy();
  await stopAllProcesses();
  cleanupNetns();
});

describe('vxlan on the embedded store, 3 nodes', () => {
  it('gives every node its own subnet, and every pod pair pings', async () => {
    topo = await Topology.create({ nodes: 3, store: 'embedded', netConf: NET_CONF, tag: 'em' });
    await Promise.all(topo.nodes.map((n) => topo!.startFlanneld(n)));
    const subnets = topo.nodes.map((n) => topo!.subnetEnv(n).FLANNEL_SUBNET);
    expect(new Set(subnets).size).toBe(3);
    for (const n of topo.nodes) topo.addPod(n);
    const matrix = topo.pingMatrix();
    expect(matrix.filter((p) => !p.ok).map((p) => `${p.from.ip} -> ${p.to.ip}`)).toEqual([]);
    expect(matrix).toHaveLength(6);
  }, 60_000);

  it('serves /healthz at once and /readyz only once it is ready; a missing config is retried every second', async () => {
    const t = topo!;
    const n = t.nodes[0]!;
    await t.stopFlanneld(n);
    rmSync(t.netConfPath);
    const get = (path: string) => t.httpGet(n, path);
    const p = startProcess('node', [FLANNELD, ...t.flanneldArgs(n)], { netns: n.ns });
    n.flanneld = p;
    await waitForOutput(p, (o) => o.includes('waiting for the network config'), 5000, 'config retry');
    expect(get('/healthz')).toBe('200 flanneld is running');
    expect(get('/readyz')).toBe('503 flanneld is not ready yet');
    expect(p.output()).toContain('--net-config-path: cannot read');
    writeFileSync(t.netConfPath, JSON.stringify(NET_CONF));
    await waitForOutput(p, (o) => o.includes('flannel is ready'), 5000, 'ready');
    expect(get('/readyz')).toBe('200 flanneld is ready');
    expect(get('/metrics')).toMatch(/^200 [\s\S]*flannel_ready 1/);
    expect(t.metric(n, 'flannel_peers')).toBe(2);
    expect(await waitFor(() => t.pingMatrix().every((m) => m.ok), 3000)).toBe(true);
  }, 30_000);
});

import { cleanupNetns } from '../harness/netns.js';
import { stopAllProcesses } from '../harness/processes.js';
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
});

// flanneld in kube mode, end to end: three node namespaces, the real flanneld CLI with --kube-subnet-mgr
// and the node-agent user's token (bound only to the manifest's ClusterRole), pods made through the CNI
// plugin, against the real API server.
import { IPNet } from '@flannel-ts/core/ip';
import type { KubeFixture } from '../harness/kube-apiserver.js';
import { KubeCluster } from '../harness/kube-cluster.js';
import { createNetns, deleteNetns, ipIn, ipJson, sh } from '../harness/netns.js';
import { waitForOutput } from '../harness/processes.js';
import type { TopologyNode } from '../harness/topology.js';
import { DEADLINE, waitFor } from '../harness/wait.js';
import { applyManifestAndBindAgent } from './manifest.js';

const P = 'flannel.alpha.coreos.com/';

/** Annotations as Go flannel v0.2x writes them for a vxlan node. */
export const goVxlanAnnotations = (publicIP: string, mac: string) => ({
  [`${P}backend-data`]: `{"VNI":1,"VtepMAC":"${mac}"}`,
  [`${P}backend-type`]: 'vxlan',
  [`${P}kube-subnet-manager`]: 'true',
  [`${P}public-ip`]: publicIP,
});

const routeDsts = (n: TopologyNode) => new Set(ipJson<{ dst: string }[]>(n.ns, 'route', 'show', 'proto', '70').map((r) => r.dst));
const bridgeFdb = (n: TopologyNode) =>
  JSON.parse(sh('bridge', ['-n', n.ns, '-j', 'fdb', 'show', 'dev', 'flannel.1']) || '[]') as { mac: string; dst?: string }[];

export function vxlanSuite(fixture: () => KubeFixture): void {
  let c: KubeCluster;
  const others = () => c.topo.nodes;

  beforeAll(async () => {
    await applyManifestAndBindAgent(fixture());
    c = await KubeCluster.create({
      fixture: fixture(),
      tag: 'kv',
      nodes: 3,
      netConf: { Network: '10.244.0.0/16', Backend: { Type: 'vxlan' } },
      podCIDR: (i) => `10.244.${i}.0/24`,
    });
    await c.topo.up();
    await c.topo.waitConverged();
  }, DEADLINE.setupMs);

  afterAll(async () => {
    for (const n of ['kv-gonode', 'kv-late']) await fixture().deleteNode(n);
    await c?.destroy();
  });

  it('takes each Node podCIDR as its subnet, and every pod pair pings over vxlan', () => {
    expect(c.topo.nodes.map((n) => c.topo.subnetEnv(n).FLANNEL_SUBNET)).toEqual(['10.244.1.1/24', '10.244.2.1/24', '10.244.3.1/24']);
    const matrix = c.topo.pingMatrix();
    expect(matrix.filter((p) => !p.ok).map((p) => `${p.from.ip} -> ${p.to.ip}`)).toEqual([]);
    expect(matrix).toHaveLength(6);
  });

  it('annotates each Node and sets NetworkUnavailable exactly as Go flannel does', async () => {
    for (const n of c.topo.nodes) {
      const node = await fixture().getNode(c.nodeName(n));
      const mac = ipJson<{ address: string }[]>(n.ns, 'link', 'show', 'flannel.1')[0]!.address;
      expect(node.metadata.annotations).toEqual(goVxlanAnnotations(n.ip, mac));
      const cond = (node.status?.conditions ?? []).filter((x) => x.type === 'NetworkUnavailable');
      expect(cond).toEqual([
        {
          type: 'NetworkUnavailable',
          status: 'False',
          reason: 'FlannelIsUp',
          message: 'Flannel is running on this node',
          lastTransitionTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
          lastHeartbeatTime: expect.stringMatching(/Z$/),
        },
      ]);
    }
  });

  it('programs a node annotated by Go flannel v0.2x as a vxlan peer, and deleting its Node removes its routes', async () => {
    const f = fixture();
    await f.createNode('kv-gonode', ['10.244.9.0/24'], goVxlanAnnotations('192.0.2.99', '4e:2f:8a:11:22:33'));
    const programmed = (n: TopologyNode) =>
      routeDsts(n).has('10.244.9.0/24') &&
      ipJson<{ dst: string; lladdr?: string }[]>(n.ns, 'neigh', 'show', 'dev', 'flannel.1').some(
        (e) => e.dst === '10.244.9.0' && e.lladdr === '4e:2f:8a:11:22:33',
      ) &&
      bridgeFdb(n).some((e) => e.mac === '4e:2f:8a:11:22:33' && e.dst === '192.0.2.99');
    expect(await waitFor(() => others().every(programmed), DEADLINE.convergeMs)).toBe(true);

    // And traffic flows: a namespace set up as Go flanneld would set up that node (flannel.1 with that MAC at
    // 192.0.2.99, and its entries for node1) answers a ping from node1's pod to an address in its subnet.
    const n1 = c.topo.nodes[0]!;
    const goNs = createNetns('kvgo');
    try {
      ipIn(goNs, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'kvgo', 'netns', c.topo.underlayNs);
      ipIn(c.topo.underlayNs, 'link', 'set', 'kvgo', 'master', 'br0', 'up');
      ipIn(goNs, 'addr', 'add', '192.0.2.99/24', 'dev', 'eth0');
      ipIn(goNs, 'link', 'set', 'eth0', 'up');
      ipIn(
        goNs,
        'link',
        'add',
        'flannel.1',
        'address',
        '4e:2f:8a:11:22:33',
        'type',
        'vxlan',
        'id',
        '1',
        'local',
        '192.0.2.99',
        'dev',
        'eth0',
        'dstport',
        '8472',
        'nolearning',
      );
      ipIn(goNs, 'addr', 'add', '10.244.9.0/32', 'dev', 'flannel.1');
      ipIn(goNs, 'link', 'set', 'flannel.1', 'up');
      ipIn(goNs, 'addr', 'add', '10.244.9.1/32', 'dev', 'lo');
      const mac1 = ipJson<{ address: string }[]>(n1.ns, 'link', 'show', 'flannel.1')[0]!.address;
      ipIn(goNs, 'route', 'add', '10.244.1.0/24', 'via', '10.244.1.0', 'dev', 'flannel.1', 'onlink');
      ipIn(goNs, 'neigh', 'add', '10.244.1.0', 'lladdr', mac1, 'dev', 'flannel.1', 'nud', 'permanent');
      sh('bridge', ['-n', goNs, 'fdb', 'append', mac1, 'dev', 'flannel.1', 'dst', n1.ip]);
      expect(c.topo.ping(n1.pods[0]!, { ns: goNs, ip: '10.244.9.1' })).toBe(true);
    } finally {
      deleteNetns(goNs);
    }

    await f.deleteNode('kv-gonode');
    const gone = (n: TopologyNode) => !routeDsts(n).has('10.244.9.0/24') && !bridgeFdb(n).some((e) => e.mac === '4e:2f:8a:11:22:33');
    expect(await waitFor(() => others().every(gone), DEADLINE.convergeMs)).toBe(true);
  });

  it('withdraws a deleted Node of ours from its peers, and takes it back when the Node returns', async () => {
    const f = fixture();
    const [n1, n2, n3] = c.topo.nodes as [TopologyNode, TopologyNode, TopologyNode];
    await f.deleteNode(c.nodeName(n3));
    expect(await waitFor(() => !routeDsts(n1).has('10.244.3.0/24') && !routeDsts(n2).has('10.244.3.0/24'), DEADLINE.convergeMs)).toBe(true);
    expect(c.topo.isRunning(n3)).toBe(true);
    // Made again as the controller would (same podCIDR): flanneld on node3 writes its annotations back.
    await f.createNode(c.nodeName(n3), ['10.244.3.0/24']);
    await c.topo.waitConverged();
    expect(await waitFor(() => c.topo.pingMatrix().every((p) => p.ok), DEADLINE.convergeMs)).toBe(true);
  });

  it('moves the peer entries of a node whose public-ip-overwrite changes', async () => {
    const f = fixture();
    const [n1, n2, n3] = c.topo.nodes as [TopologyNode, TopologyNode, TopologyNode];
    const mac3 = ipJson<{ address: string }[]>(n3.ns, 'link', 'show', 'flannel.1')[0]!.address;
    ipIn(n3.ns, 'addr', 'add', '192.0.2.113/24', 'dev', 'eth0');
    try {
      await f.annotateNode(c.nodeName(n3), { [`${P}public-ip-overwrite`]: '192.0.2.113' });
      const moved = (to: string) => (n: TopologyNode) => bridgeFdb(n).some((e) => e.mac === mac3 && e.dst === to);
      expect(await waitFor(() => [n1, n2].every(moved('192.0.2.113')), DEADLINE.convergeMs)).toBe(true);
      expect((await f.getNode(c.nodeName(n3))).metadata.annotations![`${P}public-ip`]).toBe('192.0.2.113');
      expect(await waitFor(() => c.topo.pingMatrix().every((p) => p.ok), DEADLINE.convergeMs)).toBe(true);

      await f.annotateNode(c.nodeName(n3), { [`${P}public-ip-overwrite`]: null });
      expect(await waitFor(() => [n1, n2].every(moved(n3.ip)), DEADLINE.convergeMs)).toBe(true);
    } finally {
      ipIn(n3.ns, 'addr', 'del', '192.0.2.113/24', 'dev', 'eth0');
    }
  });

  it(
    'survives an API server restart (same etcd) with no route lost, re-lists after 410 Gone, and picks up new nodes',
    async () => {
      const f = fixture();
      const want = (n: TopologyNode) => c.topo.nodes.filter((p) => p !== n).map((p) => String(IPNet.parse(c.topo.subnetEnv(p).FLANNEL_SUBNET!)));
      const lost: string[] = [];
      let watching = true;
      const watcher = (async () => {
        while (watching) {
          for (const n of c.topo.nodes) for (const dst of want(n)) if (!routeDsts(n).has(dst)) lost.push(`${n.name} lost ${dst}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
      // A write no Node sees, so the flanneld watches resume from a resourceVersion older than the new server keeps.
      await f.bumpEtcdRevision();
      await f.restartApiServer();
      await Promise.all(
        c.topo.nodes.map((n) =>
          waitForOutput(n.flanneld!, (o) => o.includes('the node watch expired (410 Gone); listing nodes again'), DEADLINE.setupMs, `${n.name} relist`),
        ),
      );
      await f.createNode('kv-late', ['10.244.10.0/24'], goVxlanAnnotations('192.0.2.98', '4e:2f:8a:11:22:44'));
      expect(await waitFor(() => c.topo.nodes.every((n) => routeDsts(n).has('10.244.10.0/24')), DEADLINE.convergeMs)).toBe(true);
      watching = false;
      await watcher;
      expect(lost).toEqual([]);
      expect(c.topo.nodes.every((n) => c.topo.isRunning(n))).toBe(true);
    },
    DEADLINE.setupMs * 2,
  );
}

export function hostGwSuite(fixture: () => KubeFixture): void {
  let c: KubeCluster;
  beforeAll(async () => {
    await applyManifestAndBindAgent(fixture());
    c = await KubeCluster.create({
      fixture: fixture(),
      tag: 'kh',
      nodes: 3,
      netConf: { Network: '10.245.0.0/16', Backend: { Type: 'host-gw' } },
      podCIDR: (i) => `10.245.${i}.0/24`,
    });
    await c.topo.up();
    await c.topo.waitConverged();
  }, DEADLINE.setupMs);
  afterAll(() => c?.destroy());

  it('every pod pair pings over host-gw, and each Node says backend-data null as Go writes', async () => {
    const matrix = c.topo.pingMatrix();
    expect(matrix.filter((p) => !p.ok).map((p) => `${p.from.ip} -> ${p.to.ip}`)).toEqual([]);
    expect(matrix).toHaveLength(6);
    for (const n of c.topo.nodes) {
      expect((await fixture().getNode(c.nodeName(n))).metadata.annotations).toEqual({
        [`${P}backend-data`]: 'null',
        [`${P}backend-type`]: 'host-gw',
        [`${P}kube-subnet-manager`]: 'true',
        [`${P}public-ip`]: n.ip,
      });
      const gws = ipJson<{ dst: string; gateway?: string }[]>(n.ns, 'route', 'show', 'proto', '70').map((r) => `${r.dst} via ${r.gateway}`);
      expect(gws.sort()).toEqual(
        c.topo.nodes
          .filter((p) => p !== n)
          .map((p) => `${c.topo.leaseSubnet(p)} via ${p.ip}`)
          .sort(),
      );
    }
  });
}

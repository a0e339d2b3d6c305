// host-gw on etcd, 3 nodes on one L2 underlay, the real flanneld CLI in each node namespace. The cases
// share one topology; beforeEach puts back what a case stopped or wrote, so none depends on another.
import { jest } from '@jest/globals';
import { ipJson, sh } from '../harness/netns.js';
import { startProcess, waitForExit, waitForOutput } from '../harness/processes.js';
import { FLANNELD, tearDown, Topology, type TopologyNode } from '../harness/topology.js';
import { DEADLINE, waitFor } from '../harness/wait.js';

jest.setTimeout(DEADLINE.testMs);

interface RouteJson {
  dst: string;
  gateway?: string;
  dev: string;
  flags: string[];
  protocol?: string;
}
let topo: Topology;
const routes = (n: TopologyNode) => ipJson<RouteJson[]>(n.ns, 'route', 'show', 'proto', '70');
const subnetOf = (n: TopologyNode) => topo.leaseSubnet(n);
const byDst = (a: { dst: string }, b: { dst: string }) => a.dst.localeCompare(b.dst);
const SUBNETS = '/coreos.com/network/subnets/';

beforeAll(async () => {
  topo = await (await Topology.create({ nodes: 3, store: 'etcd', tag: 'hg', netConf: { Network: '10.244.0.0/16', Backend: { Type: 'host-gw' } } })).up();
}, DEADLINE.setupMs);

beforeEach(async () => {
  await topo.restore();
  // Leases a failed case may have left: only the nodes' own stay, and each node routes to exactly its peers.
  const own = new Set(topo.nodes.map((n) => `${SUBNETS}${subnetOf(n).replace('/', '-')}`));
  const keys = (await topo.etcdctl('get', '--keys-only', '--prefix', SUBNETS)).split('\n').filter(Boolean);
  for (const key of keys) if (!own.has(key)) await topo.etcdctl('del', key);
  await topo.waitConverged();
  await waitFor(() => topo.nodes.every((n) => routes(n).length === topo.nodes.length - 1), DEADLINE.convergeMs);
}, DEADLINE.setupMs);

afterAll(() => tearDown([topo]));

describe('host-gw with etcd, 3 nodes', () => {
  it('every pod pair pings', () => {
    expect(
      topo
        .pingMatrix()
        .filter((p) => !p.ok)
        .map((p) => `${p.from.ip} -> ${p.to.ip}`),
    ).toEqual([]);
  });

  it("routes each peer subnet via the peer's address on eth0, and nothing else; MTU is the interface's", () => {
    for (const n of topo.nodes) {
      const want = topo.nodes.filter((p) => p !== n).map((p) => ({ dst: subnetOf(p), gateway: p.ip, dev: 'eth0', flags: [] as string[] }));
      expect(
        routes(n)
          .map((r) => ({ dst: r.dst, gateway: r.gateway, dev: r.dev, flags: r.flags }))
          .sort(byDst),
      ).toEqual(want.sort(byDst));
      expect(topo.subnetEnv(n).FLANNEL_MTU).toBe('1500');
    }
  });

  it('stores the lease without BackendData', async () => {
    const n = topo.nodes[0]!;
    const value = await topo.etcdctl('get', '--print-value-only', `/coreos.com/network/subnets/${subnetOf(n).replace('/', '-')}`);
    expect(JSON.parse(value)).toEqual({ PublicIP: n.ip, PublicIPv6: null, BackendType: 'host-gw' });
  });

  it('puts back a route deleted by hand within 2 s', async () => {
    const [n1, n2] = topo.nodes as [TopologyNode, TopologyNode];
    const start = Date.now();
    sh('ip', ['-n', n1.ns, 'route', 'del', subnetOf(n2)]);
    expect(await waitFor(() => routes(n1).some((r) => r.dst === subnetOf(n2) && r.gateway === n2.ip), DEADLINE.convergeMs)).toBe(true);
    expect(Date.now() - start).toBeLessThan(2000);
  });

  it('skips a peer on another L2 segment with a warning that says host-gw needs L2 adjacency', async () => {
    const n1 = topo.nodes[0]!;
    try {
      await topo.etcdctl('put', '/coreos.com/network/subnets/10.244.201.0-24', '{"PublicIP":"198.51.100.7","PublicIPv6":null,"BackendType":"host-gw"}');
      await waitForOutput(n1.flanneld!, (o) => o.includes('198.51.100.7 is not on eth0'), DEADLINE.convergeMs, 'L2 warning');
      expect(n1.flanneld!.output()).toMatch(/"subnet":"10\.244\.201\.0\/24".*host-gw needs L2 adjacency.*"skippedPeers":1/);
      expect(routes(n1).some((r) => r.dst === '10.244.201.0/24')).toBe(false);
      expect(topo.metric(n1, 'flannel_peers{state="skipped"}')).toBe(1);
      expect(topo.metric(n1, 'flannel_peers{state="programmed"}')).toBe(2);
    } finally {
      await topo.etcdctl('del', '/coreos.com/network/subnets/10.244.201.0-24');
    }
  });

  it("drops a peer's route when its lease goes", async () => {
    const [n1, , n3] = topo.nodes as [TopologyNode, TopologyNode, TopologyNode];
    await topo.stopFlanneld(n3);
    await topo.etcdctl('del', `/coreos.com/network/subnets/${subnetOf(n3).replace('/', '-')}`);
    expect(await waitFor(() => !routes(n1).some((r) => r.dst === subnetOf(n3)), DEADLINE.convergeMs)).toBe(true);
  });

  it("refuses a --public-ip that differs from the interface address, with flannel's NAT error", async () => {
    const n3 = topo.nodes[2]!;
    await topo.stopFlanneld(n3); // the node's own flanneld holds the health port and the lease
    const p = startProcess('node', [FLANNELD, ...topo.flanneldArgs(n3), '--public-ip=192.0.2.200'], { netns: n3.ns });
    expect(await waitForExit(p, DEADLINE.readyMs, 'flanneld with a NAT public IP')).toBe(1);
    expect(p.output()).toContain("your PublicIP differs from interface IP, meaning that probably you're on a NAT, which is not supported by host-gw backend");
  });
});

describe('host-gw dual stack', () => {
  it(
    "routes the peer's IPv6 subnet via its IPv6 address on eth0 as well",
    async () => {
      const netConf = { Network: '10.244.0.0/16', EnableIPv6: true, IPv6Network: 'fd00:10:244::/56', Backend: { Type: 'host-gw' } };
      const t = await Topology.create({ nodes: 2, store: 'embedded', tag: 'hg6', ipv6: true, netConf });
      try {
        await Promise.all(t.nodes.map((n) => t.startFlanneld(n)));
        await t.waitConverged({ ipv6: true });
        const [n1, n2] = t.nodes as [TopologyNode, TopologyNode];
        const peer6 = t.leaseSubnet(n2, true);
        const v6 = ipJson<RouteJson[]>(n1.ns, '-6', 'route', 'show', 'proto', '70');
        expect(v6.map((r) => ({ dst: r.dst, gateway: r.gateway, dev: r.dev }))).toEqual([{ dst: peer6, gateway: n2.ip6, dev: 'eth0' }]);
        expect(routes(n1).map((r) => ({ dst: r.dst, gateway: r.gateway }))).toEqual([{ dst: t.leaseSubnet(n2), gateway: n2.ip }]);
      } finally {
        await t.destroy();
      }
    },
    DEADLINE.setupMs,
  );
});

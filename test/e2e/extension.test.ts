// The extension backend on etcd, 3 nodes on one L2 underlay, the real flanneld CLI in each node: the data
// path is nothing but the operator's commands, run without a shell. Add and remove make plain routes via
// the peers' addresses (what host-gw would do), the pre-startup output is published as BackendData, and
// the post-startup command labels the node's lo with what it was given.
import { jest } from '@jest/globals';
import { ipJson } from '../harness/netns.js';
import { tearDown, Topology, type TopologyNode } from '../harness/topology.js';
import { DEADLINE, waitFor } from '../harness/wait.js';

jest.setTimeout(DEADLINE.testMs);

const SUBNETS = '/coreos.com/network/subnets/';
const BACKEND = {
  Type: 'extension',
  PreStartupCommand: 'ip -4 -brief addr show dev eth0',
  PostStartupCommand: 'ip link set lo alias flannel:$NETWORK:${SUBNET}:$PUBLIC_IP',
  SubnetAddCommand: 'ip route replace $SUBNET via $PUBLIC_IP dev eth0',
  SubnetRemoveCommand: 'ip route del $SUBNET via ${PUBLIC_IP} dev eth0',
};
let topo: Topology;

interface RouteJson {
  dst: string;
  gateway?: string;
  dev: string;
  protocol?: string;
}
const routeTo = (n: TopologyNode, subnet: string) => ipJson<RouteJson[]>(n.ns, 'route', 'show', subnet);
const key = (n: TopologyNode) => `${SUBNETS}${topo.leaseSubnet(n).replace('/', '-')}`;

/** What keeps the nodes from routing to each other: the routes the add commands have not made (yet). */
const missing = () =>
  topo.nodes.flatMap((n) => topo.nodes.filter((p) => p !== n && routeTo(n, topo.leaseSubnet(p)).length === 0).map((p) => `${n.name} → ${p.name}`));

beforeAll(async () => {
  topo = await (await Topology.create({ nodes: 3, store: 'etcd', tag: 'ex', netConf: { Network: '10.244.0.0/16', Backend: BACKEND } })).up();
  // flanneld is ready once its own lease is in place; the peers' add commands run as their leases arrive.
  if (!(await waitFor(() => missing().length === 0, DEADLINE.convergeMs, 100))) throw new Error(`no route: ${missing().join(', ')}`);
}, DEADLINE.setupMs);

afterAll(() => tearDown([topo]));

describe('extension backend with etcd, 3 nodes', () => {
  it("routes each peer's subnet via its address as the add command says, and every pod pair pings", () => {
    for (const n of topo.nodes) {
      for (const p of topo.nodes.filter((x) => x !== n)) {
        expect(routeTo(n, topo.leaseSubnet(p)).map((r) => ({ dst: r.dst, gateway: r.gateway, dev: r.dev }))).toEqual([
          { dst: topo.leaseSubnet(p), gateway: p.ip, dev: 'eth0' },
        ]);
      }
      expect(topo.subnetEnv(n).FLANNEL_MTU).toBe('1500');
    }
    expect(
      topo
        .pingMatrix()
        .filter((p) => !p.ok)
        .map((p) => `${p.from.ip} -> ${p.to.ip}`),
    ).toEqual([]);
  });

  it('publishes the pre-startup output as a JSON string, and ran the post-startup command with the lease', async () => {
    for (const n of topo.nodes) {
      const value = JSON.parse(await topo.etcdctl('get', '--print-value-only', key(n))) as Record<string, unknown>;
      expect(value).toMatchObject({ PublicIP: n.ip, BackendType: 'extension' });
      expect(typeof value.BackendData).toBe('string');
      expect(value.BackendData).toMatch(new RegExp(`^eth0\\S*\\s+UP\\s+${n.ip.replace(/\./g, '\\.')}/24$`));
      const [lo] = ipJson<{ ifalias?: string }[]>(n.ns, 'link', 'show', 'lo');
      expect(lo!.ifalias).toBe(`flannel:10.244.0.0/16:${topo.leaseSubnet(n)}:${n.ip}`);
    }
  });

  // Last: it takes node3 out of the cluster (a node whose lease is deleted exits, as Go's does).
  it("runs the remove command when a peer's lease goes away: the others drop its route", async () => {
    const [n1, n2, n3] = topo.nodes as [TopologyNode, TopologyNode, TopologyNode];
    const gone = topo.leaseSubnet(n3);
    await topo.etcdctl('del', key(n3));
    expect(await waitFor(() => routeTo(n1, gone).length === 0 && routeTo(n2, gone).length === 0, DEADLINE.convergeMs, 100)).toBe(true);
    expect(routeTo(n1, topo.leaseSubnet(n2))).toHaveLength(1);
    expect(routeTo(n2, topo.leaseSubnet(n1))).toHaveLength(1);
  });
});

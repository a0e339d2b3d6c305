// A 3-member etcd cluster whose leader is killed (SIGKILL) during lease churn, with every member in
// --etcd-endpoints. flanneld talks to the first endpoint, so leadership is moved there first: the member that
// dies is both the leader and the one the nodes' watches are on. Nothing may be lost or doubled: etcd ends up
// holding exactly the churn's acknowledged leases and one lease per node (a node that starts during the
// election included), and every node's kernel routes exactly what etcd holds, changes after the kill included,
// which shows its watch resumed on another member.
import { jest } from '@jest/globals';
import { startProcess, stopProcess, waitForOutput, type Started } from '../harness/processes.js';
import { tearDown, type Topology, type TopologyNode } from '../harness/topology.js';
import { DEADLINE, waitFor } from '../harness/wait.js';
import { ETCD_TOOL, flannelRoutes, result, twoOfThreeRunning } from './chaos.js';

jest.setTimeout(DEADLINE.setupMs * 2);

/** The churn takes 10.244.1.0/24 .. 10.244.100.0/24; the nodes lease from SubnetMin up, far from it. */
const NET_CONF = { Network: '10.244.0.0/16', SubnetMin: '10.244.200.0', Backend: { Type: 'vxlan' } };
const SLOTS = 100;
let topo: Topology;
let churn: Started | undefined;

beforeAll(async () => {
  ({ topo } = await twoOfThreeRunning({ store: 'etcd', etcdMembers: 3, netConf: NET_CONF, tag: 'ec' }));
}, DEADLINE.setupMs);

afterAll(async () => {
  if (churn) await stopProcess(churn.child);
  await tearDown([topo]);
});

/** Every subnet key in etcd, with its PublicIP. */
async function subnetKeys(): Promise<Map<string, string>> {
  const out = JSON.parse(await topo.etcdctl('get', '--prefix', `${topo.etcdPrefix}/subnets/`, '-w', 'json')) as { kvs?: { key: string; value: string }[] };
  const b64 = (s: string) => Buffer.from(s, 'base64').toString();
  return new Map(
    (out.kvs ?? []).map((kv) => [b64(kv.key).slice(`${topo.etcdPrefix}/subnets/`.length), (JSON.parse(b64(kv.value)) as { PublicIP: string }).PublicIP]),
  );
}
const progress = (p: Started): number => Math.max(0, ...[...p.stdout().matchAll(/"progress":(\d+)/g)].map((m) => Number(m[1])));

describe('a 3-member etcd cluster loses its leader during lease churn', () => {
  it('loses and doubles nothing, and every node follows etcd after the election', async () => {
    const cluster = topo.etcdCluster!;
    const [n1, n2, n3] = topo.nodes as [TopologyNode, TopologyNode, TopologyNode];
    await topo.waitConverged();
    churn = startProcess('node', [ETCD_TOOL, 'churn', topo.etcdEndpoints, topo.etcdPrefix, '10.244.0.0', String(SLOTS)], { netns: topo.etcdNs });
    await waitForOutput(churn, (o) => /"progress":100\b/.test(o), DEADLINE.convergeMs, 'the churn under way');

    const victim = cluster.members[0]!;
    cluster.makeLeader(victim);
    expect(cluster.leader()).toBe(victim);
    const before = progress(churn);
    const t0 = Date.now();
    await victim.kill();
    // A node that starts during the election must get a lease of its own, and only one.
    const joining = topo.startFlanneld(n3);
    await waitForOutput(churn, () => progress(churn!) >= before + 100, DEADLINE.convergeMs * 2, 'the churn going on after the kill');
    result('etcd_leader_kill_churn_resumed_ms', Date.now() - t0);
    await joining;
    result('etcd_leader_kill_node_joined_ms', Date.now() - t0);
    const newLeader = cluster.leader();
    expect(newLeader).not.toBe(victim);

    await stopProcess(churn.child);
    await churn.closed;
    const final = JSON.parse(churn.stdout().trim().split('\n').pop()!) as { ops: number; errors: number; keys: string[] };
    churn = undefined;
    result('etcd_leader_kill_churn_ops', final.ops);
    result('etcd_leader_kill_churn_errors', final.errors);

    const keys = await subnetKeys();
    const churnKeys = [...keys.keys()].filter((k) => Number(k.split('.')[2]) <= SLOTS).sort();
    expect(churnKeys).toEqual(final.keys.map((k) => k.slice(`${topo.etcdPrefix}/subnets/`.length)).sort());
    const nodeKeys = [...keys].filter(([k]) => Number(k.split('.')[2]) > SLOTS);
    expect(nodeKeys.map(([, ip]) => ip).sort()).toEqual([n1.ip, n2.ip, n3.ip].sort());
    expect(nodeKeys.map(([k]) => k.replace('-', '/')).sort()).toEqual([n1, n2, n3].map((n) => topo.leaseSubnet(n)).sort());

    // Every node routes to exactly what etcd holds (but its own subnet): its watch resumed after the kill.
    const stopped = Date.now();
    const want = (n: TopologyNode) =>
      [...keys.keys()]
        .map((k) => k.replace('-', '/'))
        .filter((s) => s !== topo.leaseSubnet(n))
        .sort();
    const diverged = () => [n1, n2, n3].filter((n) => JSON.stringify(flannelRoutes(n).sort()) !== JSON.stringify(want(n))).map((n) => n.name);
    expect(await waitFor(() => diverged().length === 0, DEADLINE.convergeMs)).toBe(true);
    result('etcd_leader_kill_kernel_converged_ms', Date.now() - stopped);
    topo.addPod(n3);
    expect(await waitFor(() => topo.pingMatrix().every((p) => p.ok), DEADLINE.convergeMs)).toBe(true);
    expect([n1, n2, n3].every((n) => topo.isRunning(n))).toBe(true);
  });
});

// One node cut off from etcd for 30 s (nft drops its traffic to and from the etcd server, inside its own
// namespace) while the cluster changes: it keeps its routes and its pods keep talking to the other nodes,
// /healthz answers, it says the store is unreachable; once the partition heals it catches up with what it
// missed (a node that joined meanwhile) and says the store answers again.
import { jest } from '@jest/globals';
import { execIn } from '../harness/netns.js';
import { tearDown, type Topology, type TopologyNode } from '../harness/topology.js';
import { DEADLINE, waitFor } from '../harness/wait.js';
import { flannelRoutes, pollHealthz, result, twoOfThreeRunning, VXLAN_NET_CONF, waitForLog } from './chaos.js';

jest.setTimeout(DEADLINE.setupMs * 2);

const PARTITION_MS = 30_000;
const STORE_IP = '192.0.2.250';
let topo: Topology;
let n1: TopologyNode;
let n2: TopologyNode;
let n3: TopologyNode;

beforeAll(async () => {
  ({
    topo,
    nodes: [n1, n2, n3],
  } = await twoOfThreeRunning({ store: 'etcd', netConf: VXLAN_NET_CONF, tag: 'pt' }));
}, DEADLINE.setupMs);

afterAll(async () => {
  try {
    execIn(n1.ns, 'nft', 'delete', 'table', 'inet', 'chaos');
  } catch {
    // healed already
  }
  await tearDown([topo]);
});

const partition = () =>
  execIn(
    n1.ns,
    'nft',
    [
      'add table inet chaos',
      `add chain inet chaos out { type filter hook output priority 0; policy accept; }`,
      `add chain inet chaos in { type filter hook input priority 0; policy accept; }`,
      `add rule inet chaos out ip daddr ${STORE_IP} drop`,
      `add rule inet chaos in ip saddr ${STORE_IP} drop`,
    ].join('; '),
  );
const heal = () => execIn(n1.ns, 'nft', 'delete', 'table', 'inet', 'chaos');

describe('a node partitioned from etcd for 30 s', () => {
  it('keeps its routes and traffic, and catches up once the partition heals', async () => {
    await topo.waitConverged();
    const s2 = topo.leaseSubnet(n2);
    const poller = pollHealthz(n1, 100);
    await poller.started;
    partition();
    const t0 = Date.now();
    expect(
      execIn(n1.ns, 'sh', '-c', `etcdctl --endpoints ${topo.etcdEndpoints} --dial-timeout=1s --command-timeout=2s get x >/dev/null 2>&1; echo $?`).trim(),
    ).not.toBe('0');
    // Meanwhile the cluster changes: node3 joins, and node2 learns of it.
    await topo.startFlanneld(n3);
    topo.addPod(n3);
    const s3 = topo.leaseSubnet(n3);
    expect(await waitFor(() => flannelRoutes(n2).includes(s3), DEADLINE.convergeMs)).toBe(true);
    await waitForLog(n1.flanneld!, (l) => /^cannot reach the etcd store/.test(l.msg), 'node1 noticing the outage', PARTITION_MS);
    result('partition_outage_noticed_ms', Date.now() - t0);

    // For the rest of the 30 s: node1 keeps its route to node2 and its pod still reaches node2's pod.
    const lost: string[] = [];
    while (Date.now() - t0 < PARTITION_MS) {
      if (!flannelRoutes(n1).includes(s2)) lost.push(`route to ${s2} gone at +${Date.now() - t0} ms`);
      if (!topo.ping(n1.pods[0]!, n2.pods[0]!)) lost.push(`ping to node2's pod failed at +${Date.now() - t0} ms`);
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(lost).toEqual([]);
    expect(flannelRoutes(n1)).not.toContain(s3); // it could not have learnt of node3
    expect(topo.isRunning(n1)).toBe(true);

    heal();
    const healed = Date.now();
    expect(await waitFor(() => flannelRoutes(n1).includes(s3), DEADLINE.convergeMs * 2, 100)).toBe(true);
    result('partition_heal_to_new_peer_route_ms', Date.now() - healed);
    await waitForLog(n1.flanneld!, (l) => /^the etcd store answers again/.test(l.msg), 'node1 seeing the store again', DEADLINE.convergeMs);
    result('partition_heal_to_store_up_ms', Date.now() - healed);
    expect(await waitFor(() => topo.httpGet(n1, '/readyz').startsWith('200 '), DEADLINE.convergeMs)).toBe(true);
    await topo.waitConverged();
    expect(await waitFor(() => topo.pingMatrix().every((p) => p.ok), DEADLINE.convergeMs)).toBe(true);

    const polls = await poller.stop();
    expect(polls.length).toBeGreaterThan(100);
    expect(polls.filter((p) => p.status !== 200)).toEqual([]);
    result('partition_healthz_max_ms', Math.max(...polls.map((p) => p.ms)));
  });
});

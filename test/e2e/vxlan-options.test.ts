// vxlan options on the embedded store: DirectRouting, dual stack, and removal of stale entries we own.
// Each case builds its own topology.
import { jest } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { cleanupNetns, execIn, ipJson, sh } from '../harness/netns.js';
import { stopAllProcesses } from '../harness/processes.js';
import { Topology, type TopologyNode } from '../harness/topology.js';
import { DEADLINE, waitFor } from '../harness/wait.js';

// Each case builds a topology and starts flanneld on it: seconds when idle.
jest.setTimeout(DEADLINE.setupMs);

interface RouteJson {
  dst: string;
  gateway?: string;
  dev: string;
  flags: string[];
  nhid?: number;
}
const routes = (n: TopologyNode, ...v: string[]) => ipJson<RouteJson[]>(n.ns, ...v, 'route', 'show', 'proto', '70');
const subnetOf = (t: Topology, n: TopologyNode, ipv6 = false) => t.leaseSubnet(n, ipv6);
const topologies: Topology[] = [];

afterAll(async () => {
  for (const t of topologies) await t.destroy();
  await stopAllProcesses();
  cleanupNetns();
});

describe('vxlan DirectRouting', () => {
  it('routes peers on our L2 straight over eth0, with no vxlan entries, and pods still ping', async () => {
    const t = await Topology.create({
      nodes: 2,
      store: 'embedded',
      tag: 'dr',
      netConf: { Network: '10.244.0.0/16', Backend: { Type: 'vxlan', DirectRouting: true } },
    });
    topologies.push(t);
    await Promise.all(t.nodes.map((n) => t.startFlanneld(n)));
    await t.waitConverged();
    const [n1, n2] = t.nodes as [TopologyNode, TopologyNode];
    expect(routes(n1).map((r) => ({ dst: r.dst, gateway: r.gateway, dev: r.dev }))).toEqual([{ dst: subnetOf(t, n2), gateway: n2.ip, dev: 'eth0' }]);
    expect(ipJson(n1.ns, 'neigh', 'show', 'dev', 'flannel.1')).toEqual([]);
    for (const n of t.nodes) t.addPod(n);
    expect(t.pingMatrix().every((m) => m.ok)).toBe(true);
  });
});

describe('vxlan reconciliation', () => {
  it('removes stale routes, FDB and neigh entries that carry our marks, within the resync period', async () => {
    const t = await Topology.create({ nodes: 2, store: 'embedded', tag: 'st', netConf: { Network: '10.244.0.0/16', Backend: { Type: 'vxlan' } } });
    topologies.push(t);
    // Nothing tells flanneld of an entry added behind its back: the periodic full comparison finds it.
    await Promise.all(t.nodes.map((n) => t.startFlanneld(n, ['--kernel-resync=5'])));
    await t.waitConverged();
    const n1 = t.nodes[0]!;
    sh('ip', ['-n', n1.ns, 'route', 'add', '10.244.222.0/24', 'via', '10.244.222.0', 'dev', 'flannel.1', 'onlink', 'proto', '70']);
    sh('ip', ['-n', n1.ns, 'neigh', 'add', '10.244.222.0', 'lladdr', '0a:de:ad:00:00:01', 'dev', 'flannel.1', 'nud', 'permanent']);
    sh('bridge', ['-n', n1.ns, 'fdb', 'append', '0a:de:ad:00:00:01', 'dev', 'flannel.1', 'dst', '192.0.2.98', 'self', 'permanent']);
    const otherProto = ['route', 'add', '10.244.223.0/24', 'via', '192.0.2.1', 'dev', 'eth0'];
    sh('ip', ['-n', n1.ns, ...otherProto]);
    const clean = () =>
      !routes(n1).some((r) => r.dst === '10.244.222.0/24') &&
      !ipJson<{ dst: string }[]>(n1.ns, 'neigh', 'show', 'dev', 'flannel.1').some((e) => e.dst === '10.244.222.0') &&
      !sh('bridge', ['-n', n1.ns, 'fdb', 'show', 'dev', 'flannel.1']).includes('0a:de:ad:00:00:01');
    // Stale entries go at the next periodic resync (every 5 s here), so the wait is a multiple of that.
    expect(await waitFor(clean, DEADLINE.readyMs, 100)).toBe(true);
    expect(routes(n1)).toHaveLength(1); // the real peer is untouched
    expect(sh('ip', ['-n', n1.ns, 'route', 'show', '10.244.223.0/24'])).toContain('via 192.0.2.1'); // not ours: left alone
  });
});

describe('vxlan dual stack', () => {
  it("runs flannel.1 and flannel-v6.1 side by side and routes the peer's IPv6 subnet over IPv6", async () => {
    const netConf = { Network: '10.244.0.0/16', EnableIPv6: true, IPv6Network: 'fd00:10:244::/56', Backend: { Type: 'vxlan' } };
    const t = await Topology.create({ nodes: 2, store: 'embedded', tag: 'v6', ipv6: true, netConf });
    topologies.push(t);
    await Promise.all(t.nodes.map((n) => t.startFlanneld(n)));
    await t.waitConverged({ ipv6: true });
    const [n1, n2] = t.nodes as [TopologyNode, TopologyNode];
    const env = t.subnetEnv(n1);
    expect(env.FLANNEL_IPV6_NETWORK).toBe('fd00:10:244::/56');
    expect(env.FLANNEL_IPV6_SUBNET).toMatch(/^fd00:10:244:[0-9a-f]+::1\/64$/);
    const v6dev = ipJson<{ mtu: number; address: string; linkinfo: { info_data: Record<string, unknown> } }[]>(n1.ns, '-d', 'link', 'show', 'flannel-v6.1')[0]!;
    expect(v6dev.mtu).toBe(1430); // 1500 - 70 over IPv6
    expect(env.FLANNEL_MTU).toBe('1430'); // pods carry both families
    expect(v6dev.linkinfo.info_data).toMatchObject({ id: 1, local6: n1.ip6, link: 'eth0', learning: false });
    const peer6 = subnetOf(t, n2, true);
    expect(routes(n1, '-6').map((r) => ({ dst: r.dst, gateway: r.gateway, dev: r.dev, flags: r.flags }))).toEqual([
      { dst: peer6, gateway: peer6.split('/')[0], dev: 'flannel-v6.1', flags: ['onlink'] },
    ]);
    const fdb = sh('bridge', ['-n', n1.ns, 'fdb', 'show', 'dev', 'flannel-v6.1']);
    expect(fdb).toContain(`dst ${n2.ip6} self permanent`);
    // Node to node over the IPv6 overlay: n2's flannel-v6.1 address is its subnet's first address.
    execIn(n1.ns, 'ping', '-6', '-c1', '-W2', peer6.split('/')[0]!);
    // The lease carries both halves, as Go flannel writes them.
    const records = readFileSync(t.storePath, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { key: string; value?: string });
    const key = `${subnetOf(t, n1).replace('/', '-')}&${subnetOf(t, n1, true).replace('/', '-')}`;
    const value = JSON.parse(records.filter((r) => r.key === key && r.value).pop()!.value!);
    expect(value).toEqual({
      PublicIP: n1.ip,
      PublicIPv6: n1.ip6,
      BackendType: 'vxlan',
      BackendData: { VNI: 1, VtepMAC: ipJson<{ address: string }[]>(n1.ns, 'link', 'show', 'flannel.1')[0]!.address },
      BackendV6Data: { VNI: 1, VtepMAC: v6dev.address },
    });
  });
});

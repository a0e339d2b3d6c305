// Failures 3 and 7 of issue 19, on the real CLI with a real etcd and vxlan:
// - peer leases that would reroute what is not theirs (the underlay subnet, a /32 over the etcd server, a /25
//   inside a node's subnet, the whole Network, a subnet outside it, another prefix length, our PublicIP) are
//   refused, each with a warning that names the subnet and the rule and counted in flannel_peers{state="skipped"}; the
//   underlay's connected route and etcd stay reachable; our own key rewritten by someone is put back;
// - a device MTU changed by hand is set back.
import { jest } from '@jest/globals';
import { execIn, ipJson } from '../harness/netns.js';
import type { Topology, TopologyNode } from '../harness/topology.js';
import { DEADLINE, waitFor } from '../harness/wait.js';
import { convergedForEachCase, flannelRoutes, logLines, peers, result, VXLAN_NET_CONF, waitForLog } from './chaos.js';

jest.setTimeout(DEADLINE.setupMs);

let topo: Topology;
let n1: TopologyNode;
let n2: TopologyNode;

const attrs = (publicIP: string, mac: string) =>
  JSON.stringify({ PublicIP: publicIP, PublicIPv6: null, BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: mac } });
const put = (key: string, value: string) => topo.etcdctl('put', `${topo.etcdPrefix}/subnets/${key}`, value);
const del = (key: string) => topo.etcdctl('del', `${topo.etcdPrefix}/subnets/${key}`);
const connectedRoute = (node: TopologyNode) =>
  ipJson<{ dst: string; protocol?: string; dev: string }[]>(node.ns, 'route', 'show', '192.0.2.0/24').map((r) => `${r.dst} ${r.protocol} ${r.dev}`);

convergedForEachCase({ nodes: 2, store: 'etcd', netConf: VXLAN_NET_CONF, tag: 'hl' }, (t) => {
  topo = t;
  [n1, n2] = t.nodes as [TopologyNode, TopologyNode];
});

describe('hostile peer leases', () => {
  it('refuses each with a warning naming the subnet and the rule, counts them, and keeps the underlay and etcd reachable', async () => {
    const s2 = topo.leaseSubnet(n2);
    const hostile: [key: string, subnet: string, value: string, rule: RegExp][] = [
      ['192.0.2.0-24', '192.0.2.0/24', attrs('198.18.9.1', '0a:bb:00:00:00:01'), /is outside the network 10\.244\.0\.0\/16/],
      ['192.0.2.250-32', '192.0.2.250/32', attrs('198.18.9.2', '0a:bb:00:00:00:02'), /is outside the network/],
      [`${s2.split('/')[0]}-25`, `${s2.split('/')[0]}/25`, attrs('198.18.9.3', '0a:bb:00:00:00:03'), /is a \/25, but node subnets are \/24/],
      ['10.244.0.0-16', '10.244.0.0/16', attrs('198.18.9.4', '0a:bb:00:00:00:04'), /is a \/16, but node subnets are \/24/],
      ['10.99.1.0-24', '10.99.1.0/24', attrs('198.18.9.5', '0a:bb:00:00:00:05'), /is outside the network/],
      ['10.244.200.0-23', '10.244.200.0/23', attrs('198.18.9.6', '0a:bb:00:00:00:06'), /is a \/23, but node subnets are \/24/],
      ['10.244.201.0-24', '10.244.201.0/24', attrs(n1.ip, '0a:bb:00:00:00:07'), new RegExp(`claims our PublicIP ${n1.ip.replace(/\./g, '\\.')}`)],
    ];
    const before = connectedRoute(n1);
    expect(before).toEqual(['192.0.2.0/24 kernel eth0']);
    const t0 = Date.now();
    for (const [key, , value] of hostile) await put(key, value);

    for (const [, subnet, , rule] of hostile) {
      await waitForLog(
        n1.flanneld!,
        (l) => l.msg === 'skipping peer' && l.subnet === subnet && (l.problems as string[]).some((p) => rule.test(p)),
        `n1 refusing ${subnet} (${rule})`,
      );
    }
    result('hostile_leases_all_refused_ms', Date.now() - t0);
    expect(await waitFor(() => peers(topo, n1, 'skipped') === hostile.length, DEADLINE.convergeMs)).toBe(true);
    // n2 refuses all but the lease with n1's PublicIP (not its own), and the /25 inside its subnet for overlapping it.
    await waitForLog(n2.flanneld!, (l) => l.msg === 'skipping peer' && l.subnet === `${s2.split('/')[0]}/25`, 'n2 refusing the /25 inside its subnet');
    expect(await waitFor(() => peers(topo, n2, 'skipped') === hostile.length - 1, DEADLINE.convergeMs)).toBe(true);

    for (const node of [n1, n2]) {
      expect(connectedRoute(node)).toEqual(['192.0.2.0/24 kernel eth0']);
      const ours = flannelRoutes(node);
      for (const [, subnet] of hostile.slice(0, 6)) expect(ours).not.toContain(subnet);
      // etcd, at 192.0.2.250 on the underlay, answers from the node.
      expect(
        JSON.parse(
          execIn(node.ns, 'etcdctl', '--endpoints', topo.etcdEndpoints, '--dial-timeout=2s', 'get', '--print-value-only', `${topo.etcdPrefix}/config`),
        ),
      ).toEqual(VXLAN_NET_CONF);
      expect(topo.httpGet(node, '/readyz')).toMatch(/^200 /);
    }
    expect(topo.pingMatrix().filter((p) => !p.ok)).toEqual([]);

    for (const [key] of hostile) await del(key);
    expect(await waitFor(() => peers(topo, n1, 'skipped') === 0 && peers(topo, n2, 'skipped') === 0, DEADLINE.convergeMs)).toBe(true);
    expect(flannelRoutes(n2)).not.toContain('10.244.201.0/24');
    for (const node of [n1, n2]) expect(connectedRoute(node)).toEqual(['192.0.2.0/24 kernel eth0']);
    expect(topo.pingMatrix().filter((p) => !p.ok)).toEqual([]);
  });

  it('puts our own key back when someone rewrites it with other attributes', async () => {
    const key = topo.leaseSubnet(n1).replace('/', '-');
    const t0 = Date.now();
    await put(key, attrs(n1.ip, '0a:bb:00:00:00:99'));
    await waitForLog(n1.flanneld!, (l) => l.msg === 'our lease was rewritten by someone else; restored it', 'our lease restored');
    const value = JSON.parse(await topo.etcdctl('get', '--print-value-only', `${topo.etcdPrefix}/subnets/${key}`)) as { BackendData: { VtepMAC: string } };
    expect(value.BackendData.VtepMAC).toBe(ipJson<{ address: string }[]>(n1.ns, 'link', 'show', 'flannel.1')[0]!.address);
    result('own_lease_rewritten_restored_ms', Date.now() - t0);
    await topo.waitConverged();
    expect(topo.pingMatrix().filter((p) => !p.ok)).toEqual([]);
  });

  it("gives our subnet up (exit 1) when our key is rewritten with another node's lease", async () => {
    const key = topo.leaseSubnet(n1).replace('/', '-');
    await put(key, attrs('198.18.9.77', '0a:bb:00:00:00:77'));
    const code = await n1.flanneld!.closed;
    expect(code).toBe(1);
    expect(logLines(n1.flanneld!).some((l) => l.msg === 'our subnet is held by another lease now; giving it up' && l.holder === '198.18.9.77')).toBe(true);
    // The operator deletes the impostor; the node starts again and takes a subnet.
    await del(key);
    n1.flanneld = undefined;
  });
});

describe('a device MTU changed by hand', () => {
  it('is set back', async () => {
    const mtu = () => ipJson<{ mtu: number }[]>(n1.ns, 'link', 'show', 'flannel.1')[0]!.mtu;
    expect(mtu()).toBe(1450);
    const t0 = Date.now();
    execIn(n1.ns, 'ip', 'link', 'set', 'flannel.1', 'mtu', '1300');
    expect(await waitFor(() => mtu() === 1450, DEADLINE.convergeMs)).toBe(true);
    result('mtu_repair_ms', Date.now() - t0);
    await waitForLog(n1.flanneld!, (l) => l.msg === 'vxlan device MTU was changed; setting it back' && l.mtu === 1300, 'the MTU repair logged');
    const ok = await waitFor(() => topo.pingMatrix().every((p) => p.ok), DEADLINE.convergeMs);
    if (!ok) {
      const sh2 = (ns: string, ...a: string[]) => execIn(ns, ...(a as [string, ...string[]]));
      console.error(
        [
          sh2(n1.ns, 'ip', '-d', 'link', 'show', 'flannel.1'),
          sh2(n2.ns, 'ip', 'route'),
          sh2(n2.ns, 'ip', 'neigh', 'show', 'dev', 'flannel.1'),
          sh2(n2.ns, 'bridge', 'fdb', 'show', 'dev', 'flannel.1'),
          sh2(n1.ns, 'ip', 'route'),
          sh2(n1.ns, 'ip', 'neigh', 'show', 'dev', 'flannel.1'),
          sh2(n1.ns, 'bridge', 'fdb', 'show', 'dev', 'flannel.1'),
          await topo.etcdctl('get', '--prefix', topo.etcdPrefix),
          JSON.stringify(topo.pingMatrix()),
        ].join('\n----\n'),
      );
    }
    expect(ok).toBe(true);
  });
});

// ipip, 3 nodes (and 2 with DirectRouting) on the embedded store. This host's kernel has no ipip, so the
// suites run inside the nested kernel (test/vm); the startup error is checked here on the host.
import { jest } from '@jest/globals';
import { fileURLToPath } from 'node:url';
import { missingKernelFeature } from '../harness/kernel-features.js';
import { ipIn, ipJson, sh } from '../harness/netns.js';
import { startProcess, waitForExit } from '../harness/processes.js';
import { FLANNELD, tearDown, Topology, type TopologyNode } from '../harness/topology.js';
import { DEADLINE } from '../harness/wait.js';
import { describeWithKernelFeature } from '../vm/describe-with-kernel.js';
import { inGuest } from '../vm/run-in-vm.js';

jest.setTimeout(DEADLINE.testMs);
/**
 * Per test inside the nested kernel. Under software emulation everything is 50-100x slower than on the
 * host (the 3-node case takes ~140 s on an idle 2-core machine), and a few times slower again when the
 * machine is busy; VM_SUITE_TIMEOUT_S in test/vm/describe-with-kernel.ts allows for two of these.
 */
const SLOW = 900_000;
interface RouteJson {
  dst: string;
  gateway?: string;
  dev: string;
  flags: string[];
}
const routes = (n: TopologyNode) => ipJson<RouteJson[]>(n.ns, 'route', 'show', 'proto', '70');
const topologies: Topology[] = [];
const subnetOf = (t: Topology, n: TopologyNode) => t.leaseSubnet(n);
const byDst = (a: { dst: string }, b: { dst: string }) => a.dst.localeCompare(b.dst);

async function cluster(nodes: number, tag: string, backend: object): Promise<Topology> {
  const t = await Topology.create({ nodes, store: 'embedded', tag, netConf: { Network: '10.244.0.0/16', Backend: { Type: 'ipip', ...backend } } });
  topologies.push(t);
  await t.up([], SLOW);
  await t.waitConverged({ timeoutMs: SLOW });
  return t;
}

afterAll(() => tearDown(topologies), SLOW);

describeWithKernelFeature('ipip', fileURLToPath(import.meta.url), 'ipip backend', () => {
  // A node prepared as for kube-flannel: iptables mode needs br_netfilter, a module in the VM's kernel.
  beforeAll(() => void sh('modprobe', ['br_netfilter']), SLOW);

  it(
    '3 nodes: pods ping; flannel.ipip and the onlink routes are exactly as Go flannel makes them',
    async () => {
      const t = await cluster(3, 'ip', {});
      expect(
        t
          .pingMatrix()
          .filter((p) => !p.ok)
          .map((p) => `${p.from.ip} -> ${p.to.ip}`),
      ).toEqual([]);
      for (const n of t.nodes) {
        const dev = ipJson<{ mtu: number; flags: string[]; linkinfo: { info_kind: string; info_data: Record<string, unknown> }; addr_info?: unknown }[]>(
          n.ns,
          '-d',
          'link',
          'show',
          'flannel.ipip',
        )[0]!;
        expect(dev.mtu).toBe(1480);
        expect(dev.flags).toContain('UP');
        expect(dev.linkinfo.info_kind).toBe('ipip');
        expect(dev.linkinfo.info_data).toMatchObject({ local: n.ip, remote: 'any' });
        const addrs = ipJson<{ addr_info: { local: string; prefixlen: number }[] }[]>(n.ns, '-4', 'addr', 'show', 'dev', 'flannel.ipip')[0]!.addr_info;
        expect(addrs.map((a) => `${a.local}/${a.prefixlen}`)).toEqual([`${subnetOf(t, n).split('/')[0]}/32`]);
        const want = t.nodes.filter((p) => p !== n).map((p) => ({ dst: subnetOf(t, p), gateway: p.ip, dev: 'flannel.ipip', flags: ['onlink'] }));
        expect(
          routes(n)
            .map((r) => ({ dst: r.dst, gateway: r.gateway, dev: r.dev, flags: r.flags }))
            .sort(byDst),
        ).toEqual(want.sort(byDst));
        expect(t.subnetEnv(n).FLANNEL_MTU).toBe('1480');
      }
    },
    SLOW,
  );

  it(
    'DirectRouting: peers on our L2 get onlink routes over eth0, and pods still ping',
    async () => {
      const t = await cluster(2, 'ipd', { DirectRouting: true });
      const [n1, n2] = t.nodes as [TopologyNode, TopologyNode];
      expect(routes(n1).map((r) => ({ dst: r.dst, gateway: r.gateway, dev: r.dev, flags: r.flags }))).toEqual([
        { dst: subnetOf(t, n2), gateway: n2.ip, dev: 'eth0', flags: ['onlink'] },
      ]);
      expect(t.pingMatrix().every((p) => p.ok)).toBe(true);
    },
    SLOW,
  );
});

// Only meaningful where the kernel lacks ipip: on this host, not inside the VM.
if (!inGuest() && missingKernelFeature('ipip') !== undefined)
  describe('ipip on a kernel without it', () => {
    it('exits at startup naming CONFIG_NET_IPIP, before it takes a lease', async () => {
      const t = await Topology.create({ nodes: 1, store: 'embedded', tag: 'ipx', netConf: { Network: '10.244.0.0/16', Backend: { Type: 'ipip' } } });
      topologies.push(t);
      const n = t.nodes[0]!;
      const p = startProcess('node', [FLANNELD, ...t.flanneldArgs(n)], { netns: n.ns });
      expect(await waitForExit(p, DEADLINE.readyMs, 'flanneld without ipip')).toBe(1);
      expect(p.output()).toContain('the ipip backend needs ipip tunnels in the kernel (CONFIG_NET_IPIP');
      expect(p.output()).not.toContain('acquired a new lease');
    });

    it('refuses a foreign device named flannel.ipip, saying what to do', async () => {
      const t = await Topology.create({ nodes: 1, store: 'embedded', tag: 'ipf', netConf: { Network: '10.244.0.0/16', Backend: { Type: 'ipip' } } });
      topologies.push(t);
      const n = t.nodes[0]!;
      ipIn(n.ns, 'link', 'add', 'flannel.ipip', 'type', 'bridge');
      const p = startProcess('node', [FLANNELD, ...t.flanneldArgs(n)], { netns: n.ns });
      expect(await waitForExit(p, DEADLINE.readyMs, 'flanneld beside a foreign flannel.ipip')).toBe(1);
      expect(p.output()).toContain("flannel.ipip isn't an ipip mode device, please remove device and try again; ip link del flannel.ipip");
    });
  });

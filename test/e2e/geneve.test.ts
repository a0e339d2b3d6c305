// The geneve example plugin (examples/flannel-backend-geneve) as a user runs it: its package copied into a
// plugin folder as `npm install --prefix DIR` leaves it, flanneld started with --plugin-dir and
// Backend.Type "geneve", three nodes on the embedded store, pods pinging across. This host's kernel has no
// geneve, so the cluster runs inside the nested kernel (test/vm); the startup error is checked here.
import { jest } from '@jest/globals';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { missingKernelFeature } from '../harness/kernel-features.js';
import { ipIn, ipJson, sh } from '../harness/netns.js';
import { startProcess, waitForExit } from '../harness/processes.js';
import { FLANNELD, tearDown, Topology, type TopologyNode } from '../harness/topology.js';
import { DEADLINE, waitFor } from '../harness/wait.js';
import { describeWithKernelFeature } from '../vm/describe-with-kernel.js';
import { inGuest } from '../vm/run-in-vm.js';

jest.setTimeout(DEADLINE.testMs);
/** Per test inside the nested kernel, where everything is 50-100x slower than on the host (see ipip.test.ts). */
const SLOW = 900_000;
const PLUGIN = fileURLToPath(new URL('../../examples/flannel-backend-geneve/', import.meta.url));
const NET_CONF = { Network: '10.244.0.0/16', Backend: { Type: 'geneve' } };
const topologies: Topology[] = [];
let pluginDir: string | undefined;

/** A plugin folder holding the example as npm installs a package: package.json and dist/ under node_modules. */
function installPlugin(): string {
  if (!existsSync(join(PLUGIN, 'dist/index.js'))) throw new Error(`${PLUGIN}dist/index.js is missing: run npm run build`);
  const dir = mkdtempSync(join(tmpdir(), 'flannel-plugins-'));
  const target = join(dir, 'node_modules/flannel-backend-geneve');
  cpSync(join(PLUGIN, 'package.json'), join(target, 'package.json'));
  cpSync(join(PLUGIN, 'dist'), join(target, 'dist'), { recursive: true, filter: (src) => !src.endsWith('.tsbuildinfo') });
  return dir;
}

/** `<dst>  encap ip id 1 src 0.0.0.0 dst 192.0.2.12 ttl 0 tos 0 dev flannel.geneve scope link` (ip's JSON has two "dst" keys here). */
function encapRoutes(n: TopologyNode): { dst: string; id: string; remote: string; dev: string }[] {
  return ipIn(n.ns, 'route', 'show', 'proto', '70')
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const m = /^(\S+)\s+encap ip id (\d+) .*\bdst (\S+) .*\bdev (\S+)/.exec(l);
      return m ? { dst: m[1]!, id: m[2]!, remote: m[3]!, dev: m[4]! } : { dst: l.split(/\s+/)[0]!, id: '-', remote: '-', dev: l };
    });
}

afterAll(async () => {
  await tearDown(topologies);
  if (pluginDir) rmSync(pluginDir, { recursive: true, force: true });
}, SLOW);

describeWithKernelFeature('geneve', fileURLToPath(import.meta.url), 'geneve example plugin', () => {
  // A node prepared as for kube-flannel: iptables mode needs br_netfilter, a module in the VM's kernel.
  beforeAll(() => void sh('modprobe', ['br_netfilter']), SLOW);

  it(
    '3 nodes: flanneld loads the plugin from a plugin folder, every peer gets one encap route, and pods ping',
    async () => {
      pluginDir = installPlugin();
      const t = await Topology.create({ nodes: 3, store: 'embedded', tag: 'gn', netConf: NET_CONF });
      topologies.push(t);
      await t.up([`--plugin-dir=${pluginDir}`], SLOW);
      // Every node has a route to every other node's subnet (Topology.waitConverged reads ip's JSON, whose
      // second "dst" key, the tunnel's, hides the route's own here).
      const missing = () =>
        t.nodes.flatMap((n) => {
          const have = new Set(encapRoutes(n).map((r) => r.dst));
          return t.nodes.filter((p) => p !== n && !have.has(t.leaseSubnet(p))).map((p) => `${n.name} has no route to ${p.name}`);
        });
      expect(await waitFor(() => missing().length === 0, SLOW, 200)).toBe(true);

      expect(
        t
          .pingMatrix()
          .filter((p) => !p.ok)
          .map((p) => `${p.from.ip} -> ${p.to.ip}`),
      ).toEqual([]);
      for (const n of t.nodes) {
        expect(n.flanneld!.output()).toContain('"package":"flannel-backend-geneve"');
        const [dev] = ipJson<{ mtu: number; flags: string[]; linkinfo: { info_kind: string; info_data: Record<string, unknown> } }[]>(
          n.ns,
          '-d',
          'link',
          'show',
          'flannel.geneve',
        );
        expect(dev).toMatchObject({ mtu: 1450, linkinfo: { info_kind: 'geneve', info_data: { external: true, port: 6081, inner_proto_inherit: true } } });
        expect(dev!.flags).toContain('UP');
        const addrs = ipJson<{ addr_info: { local: string; prefixlen: number }[] }[]>(n.ns, '-4', 'addr', 'show', 'dev', 'flannel.geneve')[0]!.addr_info;
        expect(addrs.map((a) => `${a.local}/${a.prefixlen}`)).toEqual([`${t.leaseSubnet(n).split('/')[0]}/32`]);
        const want = t.nodes
          .filter((p) => p !== n)
          .map((p) => ({ dst: t.leaseSubnet(p), id: '1', remote: p.ip, dev: 'flannel.geneve' }))
          .sort((a, b) => a.dst.localeCompare(b.dst));
        expect(encapRoutes(n).sort((a, b) => a.dst.localeCompare(b.dst))).toEqual(want);
        expect(t.subnetEnv(n).FLANNEL_MTU).toBe('1450');
      }
    },
    SLOW,
  );
});

// Only meaningful where the kernel lacks geneve: on this host, not inside the VM.
if (!inGuest() && missingKernelFeature('geneve') !== undefined)
  describe('the geneve plugin on a kernel without geneve', () => {
    it('exits at startup naming CONFIG_GENEVE, before it takes a lease', async () => {
      pluginDir ??= installPlugin();
      const t = await Topology.create({ nodes: 1, store: 'embedded', tag: 'gnx', netConf: NET_CONF });
      topologies.push(t);
      const n = t.nodes[0]!;
      const p = startProcess('node', [FLANNELD, ...t.flanneldArgs(n), `--plugin-dir=${pluginDir}`], { netns: n.ns });
      expect(await waitForExit(p, DEADLINE.readyMs, 'flanneld without geneve')).toBe(1);
      expect(p.output()).toContain('the geneve backend needs geneve devices in the kernel (CONFIG_GENEVE');
      expect(p.output()).not.toContain('acquired a new lease');
    });
  });

// Masquerade and forward rules, installed by the real flanneld in node namespaces: the exact forms Go
// flannel's e2e suite reads back, resync, mode switches, and what actually happens to packets.
import { jest } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { execIn, ipJson } from '../harness/netns.js';
import { captureIcmpSources } from '../harness/capture.js';
import { startProcess, waitForExit } from '../harness/processes.js';
import { FLANNELD, tearDown, Topology, type TopologyNode } from '../harness/topology.js';
import { DEADLINE, waitFor } from '../harness/wait.js';

jest.setTimeout(DEADLINE.testMs);

const topologies: Topology[] = [];
const inNs = (n: TopologyNode, cmd: string, ...args: string[]) => execIn(n.ns, cmd, ...args);
const subnetOf = (t: Topology, n: TopologyNode) => t.leaseSubnet(n);
/** flanneld's masquerade chain rules on `n` (iptables -S lines or nft rule lines); none while the chain is missing. */
function masqueradeRules(n: TopologyNode, nftables: boolean): string[] {
  try {
    return nftables
      ? inNs(n, 'nft', 'list', 'chain', 'ip', 'flannel-ipv4', 'postrtg')
          .split('\n')
          .filter((l) => /return|masquerade/.test(l))
      : inNs(n, 'iptables', '-t', 'nat', '-S', 'FLANNEL-POSTRTG')
          .split('\n')
          .filter((l) => l.startsWith('-A '));
  } catch {
    return [];
  }
}

async function cluster(tag: string, nftables: boolean, extra: string[] = []): Promise<Topology> {
  const netConf = { Network: '10.244.0.0/16', EnableNFTables: nftables, Backend: { Type: 'vxlan' } };
  const t = await Topology.create({ nodes: 2, store: 'embedded', tag, gateway: true, netConf });
  topologies.push(t);
  return t.up(['--ip-masq', ...extra]);
}

afterAll(() => tearDown(topologies));

describe.each([
  ['iptables', false],
  ['nftables', true],
] as const)('traffic rules, %s mode', (mode, nftables) => {
  let t: Topology;
  beforeAll(async () => {
    t = await cluster(mode === 'iptables' ? 'ti' : 'tn', nftables, ['--iptables-resync=1']);
  }, DEADLINE.setupMs);

  // Each case starts from running nodes that route to each other and hold all six masquerade rules,
  // whatever the case before it stopped or deleted.
  beforeEach(async () => {
    await t.restore();
    await t.waitConverged();
    await waitFor(() => t.nodes.every((n) => masqueradeRules(n, nftables).length === 6), DEADLINE.convergeMs);
  }, DEADLINE.setupMs);

  it('installs the rules in the exact forms Go flannel writes', () => {
    const n = t.nodes[0]!;
    const pod = subnetOf(t, n);
    const net = '10.244.0.0/16';
    if (mode === 'iptables') {
      const c = '-m comment --comment "flanneld masq"';
      expect(
        inNs(n, 'iptables', '-t', 'nat', '-S')
          .split('\n')
          .filter((l) => l.includes('FLANNEL')),
      ).toEqual([
        '-N FLANNEL-POSTRTG',
        `-A POSTROUTING ${c} -j FLANNEL-POSTRTG`,
        `-A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 ${c} -j RETURN`,
        `-A FLANNEL-POSTRTG -s ${pod} -d ${net} ${c} -j RETURN`,
        `-A FLANNEL-POSTRTG -s ${net} -d ${pod} ${c} -j RETURN`,
        `-A FLANNEL-POSTRTG ! -s ${net} -d ${pod} ${c} -j RETURN`,
        `-A FLANNEL-POSTRTG -s ${net} ! -d 224.0.0.0/4 ${c} -j MASQUERADE --random-fully`,
        `-A FLANNEL-POSTRTG ! -s ${net} -d ${net} ${c} -j MASQUERADE --random-fully`,
      ]);
      const f = '-m comment --comment "flanneld forward"';
      expect(
        inNs(n, 'iptables', '-S')
          .split('\n')
          .filter((l) => l.includes('FLANNEL')),
      ).toEqual(['-N FLANNEL-FWD', `-A FORWARD ${f} -j FLANNEL-FWD`, `-A FLANNEL-FWD -s ${net} ${f} -j ACCEPT`, `-A FLANNEL-FWD -d ${net} ${f} -j ACCEPT`]);
    } else {
      const chain = inNs(n, 'nft', 'list', 'chain', 'ip', 'flannel-ipv4', 'postrtg');
      expect(chain).toContain('type nat hook postrouting priority srcnat; policy accept;');
      expect(chain).toContain('comment "chain to manage traffic masquerading by flannel"');
      const rules = chain
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => /return|masquerade/.test(l));
      expect(rules).toEqual([
        'meta mark 0x00004000 return',
        `ip saddr ${pod} ip daddr ${net} return`,
        `ip saddr ${net} ip daddr ${pod} return`,
        `ip saddr != ${net} ip daddr ${pod} return`,
        `ip saddr ${net} ip daddr != 224.0.0.0/4 masquerade fully-random`,
        `ip saddr != ${net} ip daddr ${net} masquerade fully-random`,
      ]);
      const fwd = inNs(n, 'nft', 'list', 'chain', 'ip', 'flannel-ipv4', 'forward');
      expect(fwd).toContain('type filter hook forward priority filter; policy accept;');
      expect(fwd).toContain(`ip saddr ${net} accept`);
      expect(fwd).toContain(`ip daddr ${net} accept`);
      expect(inNs(n, 'iptables-save')).not.toContain('FLANNEL');
    }
  });

  it('masquerades pod traffic leaving the cluster network, and not pod-to-pod traffic', async () => {
    const [n1, n2] = t.nodes as [TopologyNode, TopologyNode];
    const pod1 = n1.pods[0]!;
    const out = await captureIcmpSources(t.gatewayNs!, 'eth0', () => void t.ping(pod1, { ns: pod1.ns, ip: '192.0.2.1' }));
    expect(out).toEqual([n1.ip]);
    const pod2 = n2.pods[0]!;
    const across = await captureIcmpSources(pod2.ns, 'eth0', () => void t.ping(pod1, pod2));
    expect(across).toEqual([pod1.ip]);
  });

  it('puts back a rule deleted by hand within the resync period', async () => {
    const n = t.nodes[0]!;
    const pod = subnetOf(t, n);
    if (mode === 'iptables') {
      inNs(
        n,
        'iptables',
        '-t',
        'nat',
        '-D',
        'FLANNEL-POSTRTG',
        '-s',
        pod,
        '-d',
        '10.244.0.0/16',
        '-m',
        'comment',
        '--comment',
        'flanneld masq',
        '-j',
        'RETURN',
      );
      expect(
        await waitFor(() => inNs(n, 'iptables', '-t', 'nat', '-S', 'FLANNEL-POSTRTG').includes(`-s ${pod} -d 10.244.0.0/16`), DEADLINE.convergeMs, 100),
      ).toBe(true);
    } else {
      inNs(n, 'nft', 'flush', 'chain', 'ip', 'flannel-ipv4', 'postrtg');
      expect(await waitFor(() => inNs(n, 'nft', 'list', 'chain', 'ip', 'flannel-ipv4', 'postrtg').includes('masquerade'), DEADLINE.convergeMs, 100)).toBe(true);
    }
  });
});

describe('switching mode, shutdown and cleanup', () => {
  it(
    "removes the other mode's rules on a mode change, keeps rules on shutdown, and --cleanup removes everything ours",
    async () => {
      const t = await cluster('tsw', false);
      const n = t.nodes[0]!;
      expect(inNs(n, 'iptables-save')).toContain('FLANNEL-POSTRTG');
      await t.stopFlanneld(n);
      writeFileSync(t.netConfPath, JSON.stringify({ Network: '10.244.0.0/16', EnableNFTables: true, Backend: { Type: 'vxlan' } }));
      await t.startFlanneld(n, ['--ip-masq']);
      expect(inNs(n, 'iptables-save')).not.toContain('FLANNEL');
      expect(inNs(n, 'nft', 'list', 'tables')).toContain('table ip flannel-ipv4');

      expect(await t.stopFlanneld(n)).toBe(0);
      expect(inNs(n, 'nft', 'list', 'tables')).toContain('table ip flannel-ipv4'); // as Go flannel: left in place

      const p = startProcess('node', [FLANNELD, '--cleanup'], { netns: n.ns });
      expect(await waitForExit(p, DEADLINE.readyMs, 'flanneld --cleanup')).toBe(0);
      expect(inNs(n, 'nft', 'list', 'tables')).not.toContain('flannel');
      expect(inNs(n, 'iptables-save')).not.toContain('FLANNEL');
      expect(ipJson<{ ifname: string }[]>(n.ns, 'link', 'show').map((l) => l.ifname)).not.toContain('flannel.1');
      expect(ipJson(n.ns, 'route', 'show', 'proto', '70')).toEqual([]);
    },
    DEADLINE.setupMs,
  );
});

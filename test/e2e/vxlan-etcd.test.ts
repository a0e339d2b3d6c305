// vxlan on etcd, 3 nodes, the real flanneld CLI in each node namespace. The tests share one topology, but
// none relies on what another left: beforeEach restarts whatever a test stopped (etcd, flanneld), removes
// leases a test made, and waits until every node holds the exact entries for every peer.
import { jest } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { ipJson, ipIn, sh } from '../harness/netns.js';
import { startProcess, stopProcess, waitForExit, waitForOutput, type Started } from '../harness/processes.js';
import { FLANNELD, tearDown, Topology, type TopologyNode } from '../harness/topology.js';
import { DEADLINE, waitFor } from '../harness/wait.js';

jest.setTimeout(DEADLINE.testMs);

const NET_CONF = { Network: '10.244.0.0/16', Backend: { Type: 'vxlan' } };
let topo: Topology;

interface LinkJson {
  ifname: string;
  mtu: number;
  address: string;
  operstate: string;
  linkinfo: { info_kind: string; info_data: Record<string, unknown> };
}
interface NeighJson {
  dst: string;
  lladdr: string;
  state: string[];
}
interface FdbJson {
  mac: string;
  dst?: string;
  flags?: string[];
  state?: string;
}
interface RouteJson {
  dst: string;
  nhid?: number;
  gateway?: string;
  dev: string;
  flags: string[];
  protocol?: string;
}

const vxlanLink = (n: TopologyNode) => ipJson<LinkJson[]>(n.ns, '-d', 'link', 'show', 'flannel.1')[0];
/** Whether flannel.1 exists (right after a deletion, `ip link show` fails). */
const existsLink = (n: TopologyNode) => ipJson<LinkJson[]>(n.ns, 'link').some((l) => l.ifname === 'flannel.1');
const subnetOf = (n: TopologyNode) => topo.leaseSubnet(n);
const netAddr = (cidr: string) => cidr.split('/')[0]!;
const routes = (n: TopologyNode) => ipJson<RouteJson[]>(n.ns, 'route', 'show', 'proto', '70');
const peers = (n: TopologyNode) => topo.nodes.filter((p) => p !== n);

/** What Go flannel's vxlan writes per peer: a permanent neigh, a self+permanent FDB entry to its PublicIP, an onlink route. */
function expectPeerState(n: TopologyNode, peerList: TopologyNode[]): void {
  const neigh = ipJson<NeighJson[]>(n.ns, 'neigh', 'show', 'dev', 'flannel.1');
  const fdb = (JSON.parse(sh('bridge', ['-n', n.ns, '-j', 'fdb', 'show', 'dev', 'flannel.1'])) as FdbJson[]).filter((f) => f.dst);
  const expected = peerList.map((p) => ({ subnet: subnetOf(p), ip: p.ip, mac: vxlanLink(p)!.address }));
  expect(neigh.map((e) => ({ dst: e.dst, lladdr: e.lladdr, state: e.state })).sort(byDst)).toEqual(
    expected.map((e) => ({ dst: netAddr(e.subnet), lladdr: e.mac, state: ['PERMANENT'] })).sort(byDst),
  );
  expect(fdb.map((f) => ({ mac: f.mac, dst: f.dst, flags: f.flags, state: f.state })).sort((a, b) => a.mac.localeCompare(b.mac))).toEqual(
    expected.map((e) => ({ mac: e.mac, dst: e.ip, flags: ['self'], state: 'permanent' })).sort((a, b) => a.mac.localeCompare(b.mac)),
  );
  // Each route goes through a nexthop object named after the peer's subnet address (see vxlan/README.md).
  const nhid = (subnet: string) =>
    netAddr(subnet)
      .split('.')
      .reduce((a, o) => a * 256 + Number(o), 0);
  expect(
    routes(n)
      .map((r) => ({ dst: r.dst, nhid: r.nhid, gateway: r.gateway, dev: r.dev, flags: r.flags }))
      .sort(byDst),
  ).toEqual(expected.map((e) => ({ dst: e.subnet, nhid: nhid(e.subnet), gateway: netAddr(e.subnet), dev: 'flannel.1', flags: ['onlink'] })).sort(byDst));
  const nexthops = ipJson<{ id: number; gateway: string; dev: string; flags: string[]; protocol: string }[]>(n.ns, 'nexthop', 'show');
  expect(nexthops.map((h) => ({ id: h.id, gateway: h.gateway, dev: h.dev, flags: h.flags, protocol: h.protocol })).sort((a, b) => a.id - b.id)).toEqual(
    expected.map((e) => ({ id: nhid(e.subnet), gateway: netAddr(e.subnet), dev: 'flannel.1', flags: ['onlink'], protocol: '70' })).sort((a, b) => a.id - b.id),
  );
}
const byDst = (a: { dst: string }, b: { dst: string }) => a.dst.localeCompare(b.dst);
const SUBNETS = '/coreos.com/network/subnets/';
const leaseKey = (n: TopologyNode) => `${SUBNETS}${subnetOf(n).replace('/', '-')}`;

/** Why the peer state on `n` is not yet what expectPeerState wants, or undefined once it is. */
function peerStateProblem(n: TopologyNode, peerList: TopologyNode[]): string | undefined {
  try {
    expectPeerState(n, peerList);
    return undefined;
  } catch (err) {
    return `${n.name}: ${(err as Error).message}`;
  }
}

/** Waits until every node in `nodes` holds exactly its peers' entries (a failed wait names what is off). */
async function waitPeerState(nodes: TopologyNode[], peersOf: (n: TopologyNode) => TopologyNode[] = peers): Promise<void> {
  const problem = () => nodes.map((n) => peerStateProblem(n, peersOf(n))).find((p) => p !== undefined);
  if (!(await waitFor(() => problem() === undefined, DEADLINE.convergeMs, 50))) throw new Error(`peer state did not converge: ${problem()}`);
}

beforeAll(async () => {
  topo = await (await Topology.create({ nodes: 3, store: 'etcd', netConf: NET_CONF, tag: 'vx' })).up();
}, DEADLINE.setupMs);

beforeEach(async () => {
  await topo.restore();
  // Leases a failed test may have left (fakes, malformed values): only the nodes' own stay.
  const own = new Set(topo.nodes.map(leaseKey));
  const keys = (await topo.etcdctl('get', '--keys-only', '--prefix', SUBNETS)).split('\n').filter(Boolean);
  for (const key of keys) if (!own.has(key)) await topo.etcdctl('del', key);
  await waitPeerState(topo.nodes);
}, DEADLINE.setupMs);

afterAll(() => tearDown([topo]));

describe('vxlan with etcd, 3 nodes', () => {
  it('every pod pair pings', () => {
    const failed = topo
      .pingMatrix()
      .filter((p) => !p.ok)
      .map((p) => `${p.from.ip} -> ${p.to.ip}`);
    expect(failed).toEqual([]);
  });

  it('writes subnet.env exactly', () => {
    for (const n of topo.nodes) {
      const text = readFileSync(n.subnetFile, 'utf8');
      expect(text).toMatch(/^FLANNEL_NETWORK=10\.244\.0\.0\/16\nFLANNEL_SUBNET=10\.244\.\d+\.1\/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n$/);
    }
  });

  it('configures flannel.1 as Go flannel does', () => {
    for (const n of topo.nodes) {
      const link = vxlanLink(n)!;
      expect(link.mtu).toBe(1450);
      expect(link.linkinfo.info_kind).toBe('vxlan');
      expect(link.linkinfo.info_data).toMatchObject({ id: 1, local: n.ip, link: 'eth0', port: 8472, learning: false });
      expect(parseInt(link.address.slice(0, 2), 16) & 3).toBe(2); // locally administered unicast
      const addrs = ipJson<{ addr_info: { local: string; prefixlen: number }[] }[]>(n.ns, 'addr', 'show', 'dev', 'flannel.1')[0]!.addr_info;
      expect(addrs.filter((a) => a.local.includes('.')).map((a) => `${a.local}/${a.prefixlen}`)).toEqual([`${netAddr(subnetOf(n))}/32`]);
    }
  });

  it('holds exactly one neigh, FDB entry and route per peer', () => {
    for (const n of topo.nodes) expectPeerState(n, peers(n));
  });

  it('stores leases in the Go flannel format', async () => {
    const n = topo.nodes[0]!;
    const value = await topo.etcdctl('get', '--print-value-only', `/coreos.com/network/subnets/${subnetOf(n).replace('/', '-')}`);
    expect(JSON.parse(value)).toEqual({ PublicIP: n.ip, PublicIPv6: null, BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: vxlanLink(n)!.address } });
  });

  it('skips malformed peer leases with a warning and keeps running', async () => {
    const n1 = topo.nodes[0]!;
    try {
      await topo.etcdctl('put', '/coreos.com/network/subnets/10.244.250.0-24', 'not json');
      await topo.etcdctl(
        'put',
        '/coreos.com/network/subnets/10.244.251.0-24',
        '{"PublicIP":"192.0.2.99","BackendType":"vxlan","BackendData":{"VtepMAC":"nope"}}',
      );
      await waitForOutput(
        n1.flanneld!,
        (o) => o.includes('skipping a peer lease with malformed attributes') && o.includes('10.244.251.0/24'),
        DEADLINE.convergeMs,
        'warnings',
      );
      expect(n1.flanneld!.output()).toContain('BackendData.VtepMAC \\"nope\\" is not a MAC address');
    } finally {
      await topo.etcdctl('del', '--prefix', '/coreos.com/network/subnets/10.244.25');
    }
    expect(n1.flanneld!.child.exitCode).toBeNull();
    expectPeerState(n1, peers(n1));
  });

  it('puts back a route deleted by hand at once, well within the resync period', async () => {
    const [n1, n2] = topo.nodes as [TopologyNode, TopologyNode];
    const start = Date.now();
    sh('ip', ['-n', n1.ns, 'route', 'del', subnetOf(n2)]);
    const back = await waitFor(() => routes(n1).some((r) => r.dst === subnetOf(n2)), DEADLINE.convergeMs);
    expect(back).toBe(true);
    expect(Date.now() - start).toBeLessThan(2000);
  });

  it('recreates flannel.1 deleted by hand, with every peer entry, within 2 s', async () => {
    const n1 = topo.nodes[0]!;
    const mac = vxlanLink(n1)!.address;
    const start = Date.now();
    sh('ip', ['-n', n1.ns, 'link', 'del', 'flannel.1']);
    const back = await waitFor(() => existsLink(n1) && routes(n1).length === 2, DEADLINE.convergeMs);
    expect(back).toBeTruthy();
    expect(Date.now() - start).toBeLessThan(2000);
    expect(vxlanLink(n1)!.address).toBe(mac);
    expectPeerState(n1, peers(n1));
    expect(topo.ping(n1.pods[0]!, topo.nodes[1]!.pods[0]!)).toBe(true);
  });

  it('keeps its subnet and VTEP MAC across a restart, and after a reboot that lost the device', async () => {
    const n2 = topo.nodes[1]!;
    const before = { subnet: subnetOf(n2), mac: vxlanLink(n2)!.address };
    expect(await topo.stopFlanneld(n2)).toBe(0);
    // Left by the last run for a peer that is gone now. The restart's first pass compares the leases with the
    // kernel: it deletes that route and rewrites none of the entries still in place.
    ipIn(n2.ns, 'route', 'add', '10.244.250.0/24', 'dev', 'flannel.1', 'proto', '70');
    const restarted = await topo.startFlanneld(n2);
    expect({ subnet: subnetOf(n2), mac: vxlanLink(n2)!.address }).toEqual(before);
    await waitForOutput(restarted, (out) => out.includes('"applied lease events"'), DEADLINE.readyMs, 'the first pass');
    const firstPass = restarted
      .output()
      .split('\n')
      .map((l) => (l.startsWith('{') ? (JSON.parse(l) as { msg: string; operations?: number }) : undefined))
      .find((e) => e?.msg === 'applied lease events');
    expect(firstPass?.operations).toBe(1);
    expect(routes(n2).map((r) => r.dst)).not.toContain('10.244.250.0/24');
    await topo.stopFlanneld(n2);
    sh('ip', ['-n', n2.ns, 'link', 'del', 'flannel.1']);
    await topo.startFlanneld(n2);
    expect({ subnet: subnetOf(n2), mac: vxlanLink(n2)!.address }).toEqual(before);
    await waitPeerState(topo.nodes).catch(() => undefined); // the expectations below say what is off
    for (const n of topo.nodes) expectPeerState(n, peers(n));
  });

  it(
    'carries on across an etcd restart and picks up leases written after it',
    async () => {
      // stop() returns once etcd has exited, so every flanneld's connection and watch are already broken.
      await topo.etcd!.stop();
      await topo.etcd!.start();
      const fake = '{"PublicIP":"192.0.2.99","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"0a:99:00:00:00:01"}}';
      await topo.etcdctl('put', '/coreos.com/network/subnets/10.244.199.0-24', fake);
      const everywhere = () => topo.nodes.every((n) => routes(n).some((r) => r.dst === '10.244.199.0/24'));
      expect(await waitFor(everywhere, DEADLINE.readyMs)).toBe(true);
      await topo.etcdctl('del', '/coreos.com/network/subnets/10.244.199.0-24');
      expect(await waitFor(() => topo.nodes.every((n) => !routes(n).some((r) => r.dst === '10.244.199.0/24')), DEADLINE.convergeMs)).toBe(true);
      expect(topo.pingMatrix().every((p) => p.ok)).toBe(true);
    },
    DEADLINE.setupMs,
  );

  it('stops within 2 s on SIGTERM (exit 0); when its lease is deleted, every other node drops its entries', async () => {
    const n3 = topo.nodes[2]!;
    const subnet = subnetOf(n3);
    const start = Date.now();
    expect(await topo.stopFlanneld(n3)).toBe(0);
    expect(Date.now() - start).toBeLessThan(2000);
    await topo.etcdctl('del', `/coreos.com/network/subnets/${subnet.replace('/', '-')}`);
    const [n1, n2] = topo.nodes as [TopologyNode, TopologyNode];
    expect(await waitFor(() => routes(n1).length === 1 && routes(n2).length === 1, DEADLINE.convergeMs)).toBe(true);
    await waitPeerState([n1, n2], (n) => [n1, n2].filter((p) => p !== n)).catch(() => undefined); // the expectations below say what is off
    expectPeerState(n1, [n2]);
    expectPeerState(n2, [n1]);
  });

  it('exits non-zero when its own lease is revoked (Go exits 0 there)', async () => {
    const n3 = topo.nodes[2]!;
    await topo.stopFlanneld(n3); // a fresh process, whose whole output is this test's
    const proc = await topo.startFlanneld(n3);
    await topo.etcdctl('del', `/coreos.com/network/subnets/${subnetOf(n3).replace('/', '-')}`);
    expect(await waitForExit(proc, DEADLINE.readyMs, 'flanneld whose lease was revoked')).toBe(1);
    expect(proc.output()).toContain('Lease has been revoked. Shutting down daemon.');
    n3.flanneld = undefined;
  });

  it(
    'gives two flanneld racing for the last subnet one each way: a lease, and a clear error',
    async () => {
      const prefix = '/small/network';
      await topo.etcdctl('put', `${prefix}/config`, JSON.stringify({ Network: '10.99.0.0/28', SubnetLen: 30, Backend: { Type: 'vxlan', VNI: 2 } }));
      await topo.etcdctl('put', `${prefix}/subnets/10.99.0.4-30`, '{"PublicIP":"192.0.2.201","PublicIPv6":null}');
      await topo.etcdctl('put', `${prefix}/subnets/10.99.0.8-30`, '{"PublicIP":"192.0.2.202","PublicIPv6":null}');
      const racers = topo.nodes
        .slice(0, 2)
        .map((n) =>
          startProcess(
            'node',
            [FLANNELD, `--etcd-endpoints=${topo.etcd!.endpoint}`, `--etcd-prefix=${prefix}`, `--subnet-file=${topo.dir}/${n.name}-small.env`],
            { netns: n.ns },
          ),
        );
      try {
        await raceForTheLastSubnet(racers, prefix);
      } finally {
        await Promise.all(racers.map((p) => stopProcess(p.child)));
        // The winner made flannel.2 and its routes; they must not outlive this test.
        for (const n of topo.nodes.slice(0, 2)) {
          if (ipJson<{ ifname: string }[]>(n.ns, 'link', 'show').some((l) => l.ifname === 'flannel.2')) ipIn(n.ns, 'link', 'del', 'flannel.2');
        }
      }
    },
    DEADLINE.setupMs,
  );
});

/** Each racer either gets ready (a lease) or exits; the loser must say why, and leave the store as it was. */
async function raceForTheLastSubnet(racers: Started[], prefix: string): Promise<void> {
  const outcome = await Promise.all(
    racers.map((p) =>
      waitForOutput(p, (o) => o.includes('flannel is ready'), DEADLINE.readyMs, 'racer').then(
        () => 'lease',
        async (err: unknown) => {
          if (p.child.exitCode === null && p.child.signalCode === null) throw err; // neither ready nor gone
          return `exit ${await p.closed}`;
        },
      ),
    ),
  );
  const loser = racers[outcome.indexOf('exit 1')]!;
  expect([...outcome].sort()).toEqual(['exit 1', 'lease']);
  expect(loser.output()).toContain('Network: out of subnets: every subnet of 10.99.0.0/28 is leased or reserved (3 keys)');
  expect(loser.output()).not.toMatch(/\n\s+at /); // no stack trace
  const keys = (await topo.etcdctl('get', '--keys-only', '--prefix', `${prefix}/subnets/`)).split('\n').filter(Boolean);
  expect(keys.sort()).toEqual([`${prefix}/subnets/10.99.0.12-30`, `${prefix}/subnets/10.99.0.4-30`, `${prefix}/subnets/10.99.0.8-30`]);
}

// The vxlan backend over fakes: leases in, kernel entries out, no root needed. The same behaviour against
// the real kernel is in test/e2e/vxlan-*.test.ts.
import { DEFAULT_TIMING, IP, IPNet, MAC, type Lease, type Network } from '@flannel-ts/core';
import { loadNetConfig, settle, testBackendContext, type TestBackendContext } from '@flannel-ts/core/testing';
import { VxlanBackend } from './vxlan-backend.js';

const MAC2 = '0a:00:00:00:00:02';
const peer = (n: number, mac = MAC2, backendType = 'vxlan'): Lease => ({
  subnet: IPNet.parse(`10.244.${n}.0/24`),
  attrs: { publicIP: IP.parse(`192.0.2.${n}`), backendType, backendData: { VNI: 1, VtepMAC: mac } },
});

async function start(netConf = '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}', nexthops = true) {
  const ctx = testBackendContext(loadNetConfig(netConf));
  ctx.netlink.nexthopObjects = nexthops;
  const network = await new VxlanBackend(ctx).registerNetwork(loadNetConfig(netConf), AbortSignal.timeout(5000));
  const stop = new AbortController();
  const running = network.run(stop.signal);
  await settle();
  return { ctx, network, stop, running, nl: ctx.netlink };
}

async function finish(t: { stop: AbortController; running: Promise<void> }) {
  t.stop.abort();
  await t.running;
}

const dev = (ctx: TestBackendContext) => [...ctx.netlink.links.values()].find((l) => l.name === 'flannel.1')!;
const kernel = (ctx: TestBackendContext) => ({
  neighs: [...ctx.netlink.neighs.values()].map((n) => `${n.ip} ${n.mac}`),
  fdbs: [...ctx.netlink.fdbs.values()].map((f) => `${f.mac} ${f.dst}`),
  routes: [...ctx.netlink.routes.values()].filter((r) => r.protocol === 70).map((r) => `${r.dst} ${r.nhid !== undefined ? `nhid ${r.nhid}` : `via ${r.gw}`}`),
  nexthops: [...ctx.netlink.nexthops.values()].map((n) => `${n.id} via ${n.gw}`),
});

describe('vxlan backend', () => {
  it("creates flannel.1 before the lease, with the lease's address, and publishes its MAC", async () => {
    const t = await start();
    const link = dev(t.ctx);
    expect(link).toMatchObject({ kind: 'vxlan', mtu: 1450, up: true, vxlan: { vni: 1 } });
    expect(t.network.mtu).toBe(1450);
    const [lease] = t.ctx.subnetManager.list();
    expect(lease!.attrs).toMatchObject({ backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: String(link.mac) } });
    expect(t.nl.addrs.filter((a) => a.linkIndex === link.index).map((a) => `${a.ip}/${a.prefixLen}`)).toEqual([`${lease!.subnet!.ip}/32`]);
    expect(t.nl.ops.indexOf('ip link add flannel.1 type vxlan')).toBeGreaterThanOrEqual(0);
    expect(t.nl.ops.indexOf('ip link add flannel.1 type vxlan')).toBeLessThan(t.nl.ops.findIndex((o) => o.startsWith('ip addr add')));
    await finish(t);
  });

  it('programs a peer as neighbour, FDB entry, nexthop and route, in that order, and removes it in reverse', async () => {
    const t = await start();
    const id = Number(IP.parse('10.244.2.0').value);
    t.nl.ops.length = 0;
    t.ctx.subnetManager.putLease(peer(2));
    await settle();
    const index = dev(t.ctx).index;
    expect(t.nl.ops).toEqual([
      `ip neigh replace 10.244.2.0 lladdr ${MAC2} dev #${index}`,
      `bridge fdb replace ${MAC2} dev #${index} self dst 192.0.2.2`,
      `ip nexthop replace id ${id} via 10.244.2.0 dev #${index} onlink`,
      `ip route replace 10.244.2.0/24 nhid ${id}`,
    ]);
    expect(kernel(t.ctx)).toEqual({
      neighs: [`10.244.2.0 ${MAC2}`],
      fdbs: [`${MAC2} 192.0.2.2`],
      routes: [`10.244.2.0/24 nhid ${id}`],
      nexthops: [`${id} via 10.244.2.0`],
    });
    t.nl.ops.length = 0;
    t.ctx.subnetManager.deleteLease(IPNet.parse('10.244.2.0/24'));
    await settle();
    expect(t.nl.ops).toEqual([
      `ip route del 10.244.2.0/24 nhid ${id}`,
      `ip nexthop del id ${id}`,
      `bridge fdb del ${MAC2} dev #${index} self dst 192.0.2.2`,
      `ip neigh del 10.244.2.0 dev #${index}`,
    ]);
    expect(kernel(t.ctx)).toEqual({ neighs: [], fdbs: [], routes: [], nexthops: [] });
    await finish(t);
  });

  it('uses plain onlink routes on a kernel without nexthop objects', async () => {
    const t = await start(undefined, false);
    t.ctx.subnetManager.putLease(peer(2));
    await settle();
    expect(kernel(t.ctx).routes).toEqual(['10.244.2.0/24 via 10.244.2.0']);
    expect([...t.nl.routes.values()].find((r) => r.protocol === 70)).toMatchObject({ onlink: true, linkIndex: dev(t.ctx).index });
    await finish(t);
  });

  it('moves a peer whose VTEP MAC changed: the old FDB entry goes, the neighbour is rewritten', async () => {
    const t = await start();
    t.ctx.subnetManager.putLease(peer(2));
    await settle();
    t.ctx.subnetManager.putLease(peer(2, '0a:00:00:00:00:99'));
    await settle();
    expect(kernel(t.ctx)).toMatchObject({ neighs: ['10.244.2.0 0a:00:00:00:00:99'], fdbs: ['0a:00:00:00:00:99 192.0.2.2'] });
    await finish(t);
  });

  it('skips a malformed or foreign peer lease with the reason, and counts it', async () => {
    const t = await start();
    t.ctx.subnetManager.putLease(peer(3, 'zz'));
    t.ctx.subnetManager.putLease(peer(4, MAC2, 'host-gw'));
    await settle();
    expect(t.network.stats!()).toMatchObject({ peers: 0, skippedPeers: 2 });
    const problems = t.ctx.logger.entries.filter((e) => e.msg === 'skipping peer').flatMap((e) => (e.obj as { problems: string[] }).problems);
    expect(problems).toEqual(['BackendData.VtepMAC "zz" is not a MAC address', 'BackendType is "host-gw", not "vxlan"']);
    expect(kernel(t.ctx).routes).toEqual([]);
    await finish(t);
  });

  it('recreates a deleted device and replays every peer onto it', async () => {
    const t = await start();
    t.ctx.subnetManager.putLease(peer(2));
    t.ctx.subnetManager.putLease(peer(3, '0a:00:00:00:00:03'));
    await t.ctx.clock.advance(DEFAULT_TIMING.minGapMs);
    const old = dev(t.ctx);
    await t.nl.linkDel(old.index);
    expect(kernel(t.ctx).routes).toEqual([]);
    await t.ctx.clock.advance(DEFAULT_TIMING.minGapMs + DEFAULT_TIMING.settleMs);
    const now = dev(t.ctx);
    expect(now.index).not.toBe(old.index);
    expect(now.mac!.equals(old.mac)).toBe(true);
    expect(kernel(t.ctx).routes.sort()).toEqual([expect.stringMatching(/^10\.244\.2\.0\/24 nhid/), expect.stringMatching(/^10\.244\.3\.0\/24 nhid/)]);
    expect([...t.nl.neighs.values()].every((n) => n.linkIndex === now.index)).toBe(true);
    await finish(t);
  });

  it("compares everything with the kernel at the context's resyncMs (flanneld's -kernel-resync), removing what no lease wants", async () => {
    const netConf = '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}';
    const ctx = testBackendContext(loadNetConfig(netConf));
    ctx.resyncMs = 5000;
    const network = await new VxlanBackend(ctx).registerNetwork(loadNetConfig(netConf), AbortSignal.timeout(5000));
    const t = { stop: new AbortController(), running: Promise.resolve() };
    t.running = network.run(t.stop.signal);
    ctx.subnetManager.putLease(peer(2));
    await ctx.clock.advance(DEFAULT_TIMING.minGapMs);
    // A neighbour no lease wants: adding it tells the engine nothing, only a full comparison finds it.
    await ctx.netlink.neighSet({ linkIndex: dev(ctx).index, ip: IP.parse('10.244.9.0'), mac: MAC.parse('0a:00:00:00:00:09'), state: 0x80 });
    await ctx.clock.advance(4000);
    expect(kernel(ctx).neighs).toContain('10.244.9.0 0a:00:00:00:00:09');
    await ctx.clock.advance(1000 + DEFAULT_TIMING.minGapMs);
    expect(kernel(ctx).neighs).toEqual([`10.244.2.0 ${MAC2}`]);
    await finish(t);
  });

  it('puts back an MTU someone changed', async () => {
    const t = await start();
    await t.ctx.clock.advance(DEFAULT_TIMING.minGapMs);
    await t.nl.linkSetMtu(dev(t.ctx).index, 1300);
    await t.ctx.clock.advance(DEFAULT_TIMING.minGapMs + DEFAULT_TIMING.settleMs);
    expect(dev(t.ctx).mtu).toBe(1450);
    await finish(t);
  });

  it('with DirectRouting, routes a peer on our L2 via its address on eth0, and others over vxlan', async () => {
    const t = await start('{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan","DirectRouting":true}}');
    const far: Lease = { ...peer(3, '0a:00:00:00:00:03'), attrs: { ...peer(3, '0a:00:00:00:00:03').attrs, publicIP: IP.parse('198.51.100.3') } };
    t.ctx.subnetManager.putLease(peer(2));
    t.ctx.subnetManager.putLease(far);
    await settle();
    expect(kernel(t.ctx).routes.sort()).toEqual(['10.244.2.0/24 via 192.0.2.2', expect.stringMatching(/^10\.244\.3\.0\/24 nhid/)]);
    expect(kernel(t.ctx).fdbs).toEqual(['0a:00:00:00:00:03 198.51.100.3']);
    await finish(t);
  });

  it('keeps the VTEP MAC of its previous lease across a restart', async () => {
    const netConf = '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}';
    const ctx = testBackendContext(loadNetConfig(netConf));
    const mac = MAC.parse('0a:11:22:33:44:55');
    ctx.subnetManager.putLease({
      subnet: IPNet.parse('10.244.7.0/24'),
      attrs: { publicIP: ctx.extIface.extAddr!, backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: String(mac) } },
    });
    const network: Network = await new VxlanBackend(ctx).registerNetwork(loadNetConfig(netConf), AbortSignal.timeout(5000));
    expect(String(network.lease.subnet)).toBe('10.244.7.0/24');
    expect(dev(ctx).mac!.equals(mac)).toBe(true);
  });
});

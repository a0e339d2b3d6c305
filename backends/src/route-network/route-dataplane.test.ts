// The route network over fakes: leases in, routes out, no root needed.
import { DEFAULT_TIMING, IP, IPNet, reconciledNetwork, type Lease } from '@flannel-ts/core';
import { loadNetConfig, settle, testBackendContext } from '@flannel-ts/core/testing';
import { RouteDataplane } from './route-dataplane.js';

const peer = (n: number, backendType = 'test'): Lease => ({
  subnet: IPNet.parse(`10.244.${n}.0/24`),
  attrs: { publicIP: IP.parse(`192.0.2.${n}`), backendType },
});

async function start() {
  const config = loadNetConfig('{"Network":"10.244.0.0/16"}');
  const ctx = testBackendContext(config);
  const lease = await ctx.subnetManager.acquireLease({ publicIP: ctx.extIface.extAddr!, backendType: 'test' });
  let ensured = 0;
  const dataplane = new RouteDataplane({
    backendType: 'test',
    families: [4],
    nl: ctx.netlink,
    routeFor: (l) =>
      l.attrs.publicIP!.toString().endsWith('.13') ? { skip: 'thirteen is refused' } : { dst: l.subnet!, gw: l.attrs.publicIP!, linkIndex: 2, onlink: false },
    ensureDevices: async () => {
      ensured++;
      return false;
    },
    watchedLinks: ['eth0'],
  });
  const network = reconciledNetwork(ctx, { lease, mtu: 1500, config, dataplane });
  const stop = new AbortController();
  const running = network.run(stop.signal);
  await settle();
  const routes = () =>
    [...ctx.netlink.routes.values()]
      .filter((r) => r.protocol === 70)
      .map((r) => `${r.dst} via ${r.gw}`)
      .sort();
  return { ctx, network, stop, running, routes, ensured: () => ensured };
}

describe('RouteDataplane', () => {
  it('routes each peer of our type via its address, and withdraws the route with the lease', async () => {
    const t = await start();
    t.ctx.subnetManager.putLease(peer(2));
    t.ctx.subnetManager.putLease(peer(3));
    await settle();
    expect(t.routes()).toEqual(['10.244.2.0/24 via 192.0.2.2', '10.244.3.0/24 via 192.0.2.3']);
    expect(t.ctx.netlink.ops.slice(-2)).toEqual(['ip route replace 10.244.2.0/24 via 192.0.2.2 dev #2', 'ip route replace 10.244.3.0/24 via 192.0.2.3 dev #2']);
    t.ctx.subnetManager.deleteLease(IPNet.parse('10.244.2.0/24'));
    await settle();
    expect(t.routes()).toEqual(['10.244.3.0/24 via 192.0.2.3']);
    t.stop.abort();
    await t.running;
  });

  it('skips leases of another backend type and those routeFor refuses, counting them', async () => {
    const t = await start();
    t.ctx.subnetManager.putLease(peer(4, 'vxlan'));
    t.ctx.subnetManager.putLease(peer(13));
    await settle();
    expect(t.routes()).toEqual([]);
    expect(t.network.stats!()).toMatchObject({ peers: 0, skippedPeers: 2 });
    const problems = t.ctx.logger.entries.filter((e) => e.msg === 'skipping peer').flatMap((e) => (e.obj as { problems: string[] }).problems);
    expect(problems).toEqual(['its BackendType is "vxlan", not "test"', 'thirteen is refused']);
    t.stop.abort();
    await t.running;
  });

  it('puts back a deleted route, and a resync follows the external interface going down', async () => {
    const t = await start();
    t.ctx.subnetManager.putLease(peer(2));
    await t.ctx.clock.advance(DEFAULT_TIMING.minGapMs);
    await t.ctx.netlink.routeDel({ dst: IPNet.parse('10.244.2.0/24') });
    await t.ctx.clock.advance(DEFAULT_TIMING.minGapMs + DEFAULT_TIMING.settleMs);
    expect(t.routes()).toEqual(['10.244.2.0/24 via 192.0.2.2']);
    const before = t.ensured();
    await t.ctx.netlink.linkSetDown(2);
    await t.ctx.clock.advance(DEFAULT_TIMING.minGapMs + DEFAULT_TIMING.settleMs);
    expect(t.ensured()).toBe(before + 1);
    t.stop.abort();
    await t.running;
  });
});

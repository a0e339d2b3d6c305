// The geneve plugin over @flannel-ts/core/testing's fakes: no root, no kernel. The same backend against a
// real kernel (three nodes, pods pinging) is flannel-ts's test/e2e/geneve.test.ts.
import { DEFAULT_TIMING, IP, IPNet, isUserError, type JsonValue, type Lease } from '@flannel-ts/core';
import { backendConformance, loadNetConfig, settle, testBackendContext, type TestBackendContext } from '@flannel-ts/core/testing';
import { constants } from 'node:os';
import { parseGeneveConfig } from './config.js';
import { GeneveDataplane } from './geneve-dataplane.js';
import { backend } from './index.js';

const NET_CONF = '{"Network":"10.244.0.0/16","Backend":{"Type":"geneve"}}';
const peer = (n: number, data: Record<string, unknown> = { VNI: 1, Port: 6081 }, backendType = 'geneve'): Lease => ({
  subnet: IPNet.parse(`10.244.${n}.0/24`),
  attrs: { publicIP: IP.parse(`192.0.2.${n}`), backendType, backendData: data as JsonValue },
});

describe('geneve passes the backend conformance suite', () => {
  it.each(backendConformance(backend, { peer }).map((c) => [c.name, c]))('%s', async (_name, c) => {
    await c.run();
  });
});

async function start(netConf = NET_CONF, ctx: TestBackendContext = testBackendContext(loadNetConfig(netConf))) {
  const network = await (await backend.create(ctx)).registerNetwork(loadNetConfig(netConf), AbortSignal.timeout(5000));
  const stop = new AbortController();
  const running = network.run(stop.signal);
  await settle();
  return { ctx, nl: ctx.netlink, network, stop, running };
}

async function finish(t: { stop: AbortController; running: Promise<void> }) {
  t.stop.abort();
  await t.running;
}

const device = (ctx: TestBackendContext) => [...ctx.netlink.links.values()].find((l) => l.name === 'flannel.geneve');
const routes = (ctx: TestBackendContext) =>
  [...ctx.netlink.routes.values()]
    .filter((r) => r.protocol === 70)
    .map((r) => `${r.dst} dev #${r.linkIndex} encap id ${r.encap?.id} dst ${r.encap?.dst}`)
    .sort();

describe('geneve backend', () => {
  it('makes flannel.geneve external and L3 before taking the lease, MTU − 50, with the lease address', async () => {
    const t = await start();
    const dev = device(t.ctx)!;
    expect(dev).toMatchObject({ kind: 'geneve', mtu: 1450, up: true, geneve: { external: true, innerProtoInherit: true, port: 6081 } });
    expect(t.network.mtu).toBe(1450);
    expect(t.network.lease.attrs).toMatchObject({ backendType: 'geneve', publicIP: IP.parse('192.0.2.10'), backendData: { VNI: 1, Port: 6081 } });
    expect(t.nl.addrs.filter((a) => a.linkIndex === dev.index).map((a) => `${a.ip}/${a.prefixLen}`)).toEqual([`${t.network.lease.subnet!.ip}/32`]);
    expect(t.nl.ops.indexOf('ip link add flannel.geneve type geneve')).toBeLessThan(t.nl.ops.findIndex((o) => o.startsWith('ip addr add')));
    await finish(t);
  });

  it('routes each peer with tunnel metadata (our VNI, its public IP), rewrites it when the IP changes, and removes it', async () => {
    const t = await start('{"Network":"10.244.0.0/16","Backend":{"Type":"geneve","VNI":7,"Port":6082}}');
    const index = device(t.ctx)!.index;
    t.nl.ops.length = 0;
    t.ctx.subnetManager.putLease(peer(2, { VNI: 7, Port: 6082 }));
    t.ctx.subnetManager.putLease(peer(3, { VNI: 7, Port: 6082 }));
    await settle();
    expect(t.nl.ops).toEqual([
      `ip route replace 10.244.2.0/24 dev #${index} encap ip id 7 dst 192.0.2.2`,
      `ip route replace 10.244.3.0/24 dev #${index} encap ip id 7 dst 192.0.2.3`,
    ]);
    t.ctx.subnetManager.putLease({ ...peer(3, { VNI: 7, Port: 6082 }), attrs: { ...peer(3, { VNI: 7, Port: 6082 }).attrs, publicIP: IP.parse('192.0.2.33') } });
    await settle();
    expect(routes(t.ctx)).toEqual([`10.244.2.0/24 dev #${index} encap id 7 dst 192.0.2.2`, `10.244.3.0/24 dev #${index} encap id 7 dst 192.0.2.33`]);
    t.ctx.subnetManager.deleteLease(IPNet.parse('10.244.2.0/24'));
    await settle();
    expect(routes(t.ctx)).toEqual([`10.244.3.0/24 dev #${index} encap id 7 dst 192.0.2.33`]);
    await finish(t);
  });

  it('skips peers of another type, VNI or port, which could not reach us, naming why', async () => {
    const t = await start();
    t.ctx.subnetManager.putLease(peer(2, { VNI: 2, Port: 6081 }));
    t.ctx.subnetManager.putLease(peer(3, { VNI: 1, Port: 4789 }));
    t.ctx.subnetManager.putLease(peer(4, { VNI: 1, VtepMAC: '0a:00:00:00:00:04' }, 'vxlan'));
    t.ctx.subnetManager.putLease(peer(5, 'nonsense' as unknown as Record<string, unknown>));
    await settle();
    expect(routes(t.ctx)).toEqual([]);
    expect(t.network.stats!()).toMatchObject({ peers: 0, skippedPeers: 4 });
    const problems = t.network.status!().peers.flatMap((p) => p.problems);
    expect(problems).toEqual(
      expect.arrayContaining([
        'its VNI is 2, ours is 1',
        'its Port is 4789, ours is 6081',
        'BackendType is "vxlan", not "geneve"',
        'BackendData is not an object',
      ]),
    );
    await finish(t);
  });

  it('recreates a deleted flannel.geneve and puts every peer route back on it', async () => {
    const t = await start();
    t.ctx.subnetManager.putLease(peer(2));
    await settle();
    await t.nl.linkDel(device(t.ctx)!.index);
    expect(routes(t.ctx)).toEqual([]);
    await t.ctx.clock.advance(DEFAULT_TIMING.minGapMs + DEFAULT_TIMING.resyncMs);
    const dev = device(t.ctx)!;
    expect(dev).toMatchObject({ up: true, mtu: 1450, geneve: { external: true, innerProtoInherit: true } });
    expect(routes(t.ctx)).toEqual([`10.244.2.0/24 dev #${dev.index} encap id 1 dst 192.0.2.2`]);
    await finish(t);
  });

  it('takes MTU − 70 when IPv6 is enabled, and routes IPv6 subnets over the IPv6 underlay', async () => {
    const ctx = testBackendContext(loadNetConfig(NET_CONF));
    ctx.extIface.extV6Addr = IP.parse('2001:db8::10');
    const dual = '{"Network":"10.244.0.0/16","EnableIPv6":true,"IPv6Network":"fd00:10:244::/56","Backend":{"Type":"geneve"}}';
    const t = await start(dual, ctx);
    expect(t.network.mtu).toBe(1430);
    expect(t.network.lease.attrs).toMatchObject({ publicIPv6: IP.parse('2001:db8::10'), backendV6Data: { VNI: 1, Port: 6081 } });
    await finish(t);

    const dev = device(ctx)!;
    const dp = new GeneveDataplane(dev, {
      nl: ctx.netlink,
      logger: ctx.logger,
      config: loadNetConfig(dual),
      lease: t.network.lease,
      cfg: parseGeneveConfig({}),
      spec: { port: 6081, mtu: 1430 },
      families: [4, 6],
    });
    const both: Lease = {
      ...peer(2),
      ipv6Subnet: IPNet.parse('fd00:10:244:2::/64'),
      attrs: { ...peer(2).attrs, publicIPv6: IP.parse('2001:db8::2'), backendV6Data: { VNI: 1, Port: 6081 } },
    };
    const plan = dp.planPeer(both);
    expect(plan.problems).toEqual([]);
    expect(plan.entries.map((e) => e.put().op)).toEqual([
      `ip route replace 10.244.2.0/24 dev #${dev.index} encap ip id 1 dst 192.0.2.2`,
      `ip route replace fd00:10:244:2::/64 dev #${dev.index} encap ip6 id 1 dst 2001:db8::2`,
    ]);
    const { publicIPv6: _dropped, ...noV6Address } = both.attrs;
    const v4only = dp.planPeer({ ...both, attrs: noV6Address });
    expect([v4only.entries.length, v4only.problems]).toEqual([1, ['IPv6: no PublicIPv6']]);
  });

  it('refuses a device of another kind named flannel.geneve, and takes no lease', async () => {
    const ctx = testBackendContext(loadNetConfig(NET_CONF));
    await ctx.netlink.linkAdd({ kind: 'bridge', name: 'flannel.geneve' });
    const err = await start(NET_CONF, ctx).catch((e: unknown) => e);
    expect(isUserError(err) && err.message).toMatch(/flannel\.geneve exists and is a bridge device, not geneve.*ip link del flannel\.geneve/);
    expect(ctx.subnetManager.list()).toEqual([]);
  });

  it('names CONFIG_GENEVE on a kernel without geneve, and takes no lease', async () => {
    const ctx = testBackendContext(loadNetConfig(NET_CONF));
    ctx.netlink.failNext(/^ip link add flannel\.geneve/, constants.errno.EOPNOTSUPP);
    const err = await start(NET_CONF, ctx).catch((e: unknown) => e);
    expect(isUserError(err) && err.message).toMatch(/needs geneve devices in the kernel \(CONFIG_GENEVE/);
    expect(ctx.subnetManager.list()).toEqual([]);
  });

  it('rejects a VNI or port out of range, naming the field', () => {
    expect(() => parseGeneveConfig({ VNI: 0 })).toThrow(/Backend\.VNI: 0 is not a whole number from 1 to 16777215/);
    expect(() => parseGeneveConfig({ port: 70000 })).toThrow(/Backend\.Port/);
    expect(parseGeneveConfig({ vni: 5, PORT: 7000 })).toEqual({ vni: 5, port: 7000 });
  });

  it('cleanup removes flannel.geneve, and a dry run only names it', async () => {
    const t = await start();
    await finish(t);
    const ctx = { netlink: t.nl, logger: t.ctx.logger };
    expect(await backend.cleanup!({ ...ctx, dryRun: true })).toEqual(['device flannel.geneve']);
    expect(device(t.ctx)).toBeDefined();
    expect(await backend.cleanup!({ ...ctx, dryRun: false })).toEqual(['device flannel.geneve']);
    expect(device(t.ctx)).toBeUndefined();
  });
});

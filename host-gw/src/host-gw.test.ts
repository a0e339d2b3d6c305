// host-gw over fakes: which peers get a route, and why the others do not.
import { IP, IPNet, type Lease } from '@flannel-ts/core';
import { loadNetConfig, settle, testBackendContext } from '@flannel-ts/core/testing';
import { HostGwBackend } from './host-gw-backend.js';

const CONF = '{"Network":"10.244.0.0/16","Backend":{"Type":"host-gw"}}';
const peer = (n: number, ip: string): Lease => ({ subnet: IPNet.parse(`10.244.${n}.0/24`), attrs: { publicIP: IP.parse(ip), backendType: 'host-gw' } });

describe('host-gw backend', () => {
  it('routes a peer on our L2 via its address on eth0, and skips one behind a router, saying why', async () => {
    const ctx = testBackendContext(loadNetConfig(CONF));
    const network = await new HostGwBackend(ctx).registerNetwork(loadNetConfig(CONF), AbortSignal.timeout(5000));
    expect(network.mtu).toBe(1500);
    const stop = new AbortController();
    const running = network.run(stop.signal);
    ctx.subnetManager.putLease(peer(2, '192.0.2.2'));
    ctx.subnetManager.putLease(peer(3, '198.51.100.3'));
    await settle();
    const ours = [...ctx.netlink.routes.values()].filter((r) => r.protocol === 70);
    expect(ours.map((r) => `${r.dst} via ${r.gw} dev #${r.linkIndex}`)).toEqual([`10.244.2.0/24 via 192.0.2.2 dev #${ctx.extIface.iface.index}`]);
    expect(network.stats!()).toMatchObject({ peers: 1, skippedPeers: 1 });
    const skipped = ctx.logger.entries.find((e) => e.msg === 'skipping peer')!.obj as { subnet: string; problems: string[] };
    expect(skipped.subnet).toBe('10.244.3.0/24');
    expect(skipped.problems[0]).toMatch(/198\.51\.100\.3 is not on eth0's L2 segment; host-gw needs L2 adjacency/);
    stop.abort();
    await running;
  });

  it('refuses a public IP that differs from the interface address (NAT), as Go does', async () => {
    const ctx = testBackendContext(loadNetConfig(CONF));
    ctx.extIface.extAddr = IP.parse('203.0.113.5');
    await expect(new HostGwBackend(ctx).registerNetwork(loadNetConfig(CONF), AbortSignal.timeout(5000))).rejects.toThrow(/you're on a NAT/);
  });
});

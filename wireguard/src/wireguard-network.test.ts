// The wireguard backend over fakes: leases in, wireguard peers out, no root and no wireguard kernel needed.
// The same behaviour against the real kernel (in the nested kernel) is in test/e2e/wireguard.test.ts.
import { mkdtempSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_TIMING, IP, IPNet, type Lease, type Network } from '@flannel-ts/core';
import { WgSecret, wgKeyToBase64 } from '@flannel-ts/core/netlink';
import { loadNetConfig, settle, testBackendContext, type TestBackendContext } from '@flannel-ts/core/testing';
import { publicKeyOf } from './keys.js';
import { WireguardBackend } from './wireguard-backend.js';
import { backend } from './index.js';

const keyOf = (n: number) => wgKeyToBase64(publicKeyOf(new WgSecret(Buffer.alloc(32, n))));
const PSK = 'OvXZng3d+sk6F28sC5Z/sdFEQLluskZb5KXLbKhbUBE=';

/** Peer n: 10.244.n.0/24 (and fd00:10:244:n::/64) at 192.0.2.n (and 2001:db8::n), key n. */
function peer(n: number, o: { v6?: boolean; port?: number | null; key?: string; type?: string } = {}): Lease {
  const data = { PublicKey: o.key ?? keyOf(n), ...(o.port === null ? {} : { Port: o.port ?? 51820 }) };
  const lease: Lease = {
    subnet: IPNet.parse(`10.244.${n}.0/24`),
    attrs: { publicIP: IP.parse(`192.0.2.${n}`), backendType: o.type ?? 'wireguard', backendData: data },
  };
  if (o.v6) {
    lease.ipv6Subnet = IPNet.parse(`fd00:10:244:${n}::/64`);
    lease.attrs.publicIPv6 = IP.parse(`2001:db8::${n}`);
    lease.attrs.backendV6Data = { PublicKey: data.PublicKey, Port: 51821 };
  }
  return lease;
}

const V4 = '{"Network":"10.244.0.0/16","Backend":{"Type":"wireguard"}}';
const dual = (backendJson = '"Type":"wireguard"') =>
  `{"Network":"10.244.0.0/16","EnableIPv6":true,"IPv6Network":"fd00:10:244::/56","Backend":{${backendJson}}}`;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fts-wg-'));
  process.env.WIREGUARD_KEY_FILE = join(dir, 'wgkey');
});
afterEach(() => {
  delete process.env.WIREGUARD_KEY_FILE;
  rmSync(dir, { recursive: true, force: true });
});

function context(netConf: string, v6 = false): TestBackendContext {
  const ctx = testBackendContext(loadNetConfig(netConf));
  if (v6) {
    ctx.extIface.extV6Addr = ctx.extIface.ifaceV6Addr = IP.parse('2001:db8::10');
    ctx.netlink.addAddress(ctx.extIface.iface.index, '2001:db8::10/64');
  }
  return ctx;
}

async function start(netConf = V4, o: { v6?: boolean; ctx?: TestBackendContext } = {}) {
  const ctx = o.ctx ?? context(netConf, o.v6);
  const network: Network = await new WireguardBackend(ctx).registerNetwork(loadNetConfig(netConf), AbortSignal.timeout(5000));
  const stop = new AbortController();
  const running = network.run(stop.signal);
  await settle();
  return { ctx, network, stop, running, nl: ctx.netlink };
}

async function finish(t: { stop: AbortController; running: Promise<void> }) {
  t.stop.abort();
  await t.running;
}

const link = (ctx: TestBackendContext, name: string) => [...ctx.netlink.links.values()].find((l) => l.name === name);
/** `wg show DEV` in words: key endpoint allowed-ips. */
const peers = (ctx: TestBackendContext, name: string) =>
  [...(ctx.netlink.wgDevices.get(link(ctx, name)?.index ?? -1)?.peers.values() ?? [])].map(
    (p) => `${wgKeyToBase64(p.publicKey)} ${p.endpoint ? `${p.endpoint.ip}:${p.endpoint.port}` : '-'} ${p.allowedIPs.join(',')}`,
  );
/** Our public key, from the key file. */
const ownKey = () => wgKeyToBase64(publicKeyOf(WgSecret.fromBase64(readFileSync(process.env.WIREGUARD_KEY_FILE!, 'utf8'))));

describe('wireguard backend', () => {
  it('makes flannel-wg before the lease, with our key and port, and publishes {PublicKey, Port}', async () => {
    const t = await start();
    const dev = link(t.ctx, 'flannel-wg')!;
    expect(dev).toMatchObject({ kind: 'wireguard', up: true, mtu: 1440 });
    const wg = await t.nl.wgGetDevice(dev.index);
    expect(wg.listenPort).toBe(51820);
    expect(wgKeyToBase64(publicKeyOf(wg.privateKey!))).toBe(ownKey());
    const [lease] = t.ctx.subnetManager.list();
    expect(lease!.attrs).toMatchObject({ backendType: 'wireguard', backendData: { PublicKey: ownKey(), Port: 51820 } });
    expect(t.nl.addrs.filter((a) => a.linkIndex === dev.index).map((a) => `${a.ip}/${a.prefixLen}`)).toEqual([`${lease!.subnet!.ip}/32`]);
    expect([...t.nl.routes.values()].filter((r) => r.linkIndex === dev.index).map((r) => `${r.dst} scope ${r.scope} proto ${r.protocol}`)).toEqual([
      '10.244.0.0/16 scope 253 proto 70',
    ]);
    const created = t.nl.ops.indexOf('ip link add flannel-wg type wireguard');
    expect(created).toBeGreaterThanOrEqual(0);
    expect(created).toBeLessThan(t.nl.ops.findIndex((o) => o.startsWith('ip addr add')));
    expect(t.nl.ops).toContain(`wg set #${dev.index} private-key (hidden) listen-port 51820`);
    expect(t.network.mtu).toBe(1440);
    await finish(t);
  });

  it('programs a peer with its endpoint and subnet, and removes it by public key', async () => {
    const t = await start();
    const index = link(t.ctx, 'flannel-wg')!.index;
    t.nl.ops.length = 0;
    t.ctx.subnetManager.putLease(peer(2));
    await settle();
    expect(t.nl.ops).toEqual([
      `wg set #${index} peer ${keyOf(2)} preshared-key none endpoint 192.0.2.2:51820 persistent-keepalive off allowed-ips 10.244.2.0/24`,
    ]);
    expect(peers(t.ctx, 'flannel-wg')).toEqual([`${keyOf(2)} 192.0.2.2:51820 10.244.2.0/24`]);
    t.nl.ops.length = 0;
    t.ctx.subnetManager.deleteLease(IPNet.parse('10.244.2.0/24'));
    await settle();
    expect(t.nl.ops).toEqual([`wg set #${index} peer ${keyOf(2)} remove`]);
    expect(peers(t.ctx, 'flannel-wg')).toEqual([]);
    await finish(t);
  });

  it('uses our port for a peer whose lease names none, and the PSK and keepalive of the config', async () => {
    const t = await start(`{"Network":"10.244.0.0/16","Backend":{"Type":"wireguard","PSK":"${PSK}","PersistentKeepaliveInterval":25,"ListenPort":5555}}`);
    t.ctx.subnetManager.putLease(peer(2, { port: null }));
    t.ctx.subnetManager.putLease(peer(3, { port: 6000 }));
    await settle();
    expect(peers(t.ctx, 'flannel-wg').sort()).toEqual([`${keyOf(2)} 192.0.2.2:5555 10.244.2.0/24`, `${keyOf(3)} 192.0.2.3:6000 10.244.3.0/24`].sort());
    const wg = await t.nl.wgGetDevice('flannel-wg');
    expect(wg.peers.map((p) => [p.persistentKeepalive, p.presharedKey?.equals(WgSecret.fromBase64(PSK))])).toEqual([
      [25, true],
      [25, true],
    ]);
    await finish(t);
  });

  it('moves to a rotated key: the old peer goes, the new one comes', async () => {
    const t = await start();
    t.ctx.subnetManager.putLease(peer(2));
    await settle();
    t.ctx.subnetManager.putLease(peer(2, { key: keyOf(99) }));
    await settle();
    expect(peers(t.ctx, 'flannel-wg')).toEqual([`${keyOf(99)} 192.0.2.2:51820 10.244.2.0/24`]);
    await finish(t);
  });

  it('skips a malformed or foreign peer lease with the reason', async () => {
    const t = await start();
    t.ctx.subnetManager.putLease(peer(3, { key: 'not-a-key' }));
    t.ctx.subnetManager.putLease(peer(4, { type: 'vxlan' }));
    await settle();
    expect(t.network.stats!()).toMatchObject({ peers: 0, skippedPeers: 2 });
    const problems = t.ctx.logger.entries.filter((e) => e.msg === 'skipping peer').flatMap((e) => (e.obj as { problems: string[] }).problems);
    expect(problems).toEqual(['BackendData.PublicKey "not-a-key" is not a WireGuard public key', 'BackendType is "vxlan", not "wireguard"']);
    await finish(t);
  });

  it('puts back a peer removed by hand at the next periodic resync (wireguard sends no notification)', async () => {
    const t = await start();
    t.ctx.subnetManager.putLease(peer(2));
    await settle();
    await t.nl.wgSetDevice({ device: 'flannel-wg', peers: [{ publicKey: Buffer.from(keyOf(2), 'base64'), remove: true }] });
    // Nothing tells the engine: a short while later it is still gone...
    await t.ctx.clock.advance(DEFAULT_TIMING.minGapMs * 2);
    expect(peers(t.ctx, 'flannel-wg')).toEqual([]);
    // ...and the periodic resync puts it back.
    await t.ctx.clock.advance(DEFAULT_TIMING.resyncMs);
    expect(peers(t.ctx, 'flannel-wg')).toEqual([`${keyOf(2)} 192.0.2.2:51820 10.244.2.0/24`]);
    expect(t.network.status!().repairs).toEqual({ wgpeer: 1 });
    await finish(t);
  });

  it('recreates a deleted device at once (the link monitor says so) and replays every peer onto it', async () => {
    const t = await start();
    t.ctx.subnetManager.putLease(peer(2));
    t.ctx.subnetManager.putLease(peer(3));
    await t.ctx.clock.advance(DEFAULT_TIMING.minGapMs);
    const old = link(t.ctx, 'flannel-wg')!;
    await t.nl.linkDel(old.index);
    await t.ctx.clock.advance(DEFAULT_TIMING.minGapMs + DEFAULT_TIMING.settleMs); // well before the periodic resync
    const now = link(t.ctx, 'flannel-wg')!;
    expect(now.index).not.toBe(old.index);
    expect(now).toMatchObject({ up: true, mtu: 1440 });
    expect(peers(t.ctx, 'flannel-wg').sort()).toEqual([`${keyOf(2)} 192.0.2.2:51820 10.244.2.0/24`, `${keyOf(3)} 192.0.2.3:51820 10.244.3.0/24`].sort());
    expect((await t.nl.wgGetDevice(now.index)).listenPort).toBe(51820);
    expect(t.ctx.logger.entries.filter((e) => e.level === 'warn').map((e) => [e.msg, (e.obj as { problem: string }).problem])).toEqual([
      ['wireguard device is not as we left it; recreating it and replaying every peer', 'missing'],
    ]);
    expect([...t.nl.routes.values()].filter((r) => r.linkIndex === now.index).map((r) => String(r.dst))).toEqual(['10.244.0.0/16']);
    await finish(t);
  });

  it('sets back a private key or port someone changed, and a deleted network route', async () => {
    const t = await start();
    const index = link(t.ctx, 'flannel-wg')!.index;
    const mine = (await t.nl.wgGetDevice(index)).privateKey!;
    await t.nl.wgSetDevice({ device: index, privateKey: new WgSecret(Buffer.alloc(32, 7)), listenPort: 4000 });
    const route = [...t.nl.routes.values()].find((r) => r.linkIndex === index)!;
    await t.nl.routeDel(route);
    await t.ctx.clock.advance(DEFAULT_TIMING.minGapMs + DEFAULT_TIMING.settleMs); // the route's deletion asks for a resync
    const wg = await t.nl.wgGetDevice(index);
    expect(wg.privateKey!.equals(mine)).toBe(true);
    expect(wg.listenPort).toBe(51820);
    expect([...t.nl.routes.values()].some((r) => r.linkIndex === index && String(r.dst) === '10.244.0.0/16')).toBe(true);
    await finish(t);
  });

  it('keeps its key across a restart, reusing the device and keeping its peers', async () => {
    const first = await start();
    first.ctx.subnetManager.putLease(peer(2));
    await settle();
    const key = ownKey();
    const index = link(first.ctx, 'flannel-wg')!.index;
    await finish(first);
    first.nl.ops.length = 0;
    const second = await start(V4, { ctx: first.ctx });
    await second.ctx.clock.advance(DEFAULT_TIMING.minGapMs);
    expect(ownKey()).toBe(key);
    expect(link(second.ctx, 'flannel-wg')!.index).toBe(index);
    expect(second.ctx.subnetManager.list().find((l) => String(l.subnet) === String(second.network.lease.subnet))!.attrs.backendData).toMatchObject({
      PublicKey: key,
    });
    expect(second.nl.ops.filter((o) => o.includes(' remove'))).toEqual([]); // the peer stayed; the snapshot only confirms it
    expect(peers(second.ctx, 'flannel-wg')).toEqual([`${keyOf(2)} 192.0.2.2:51820 10.244.2.0/24`]);
    await finish(second);
  });

  it('a deleted key file means a new key at the next start, published in the lease', async () => {
    const first = await start();
    const before = ownKey();
    await finish(first);
    unlinkSync(process.env.WIREGUARD_KEY_FILE!);
    const second = await start(V4, { ctx: first.ctx });
    expect(ownKey()).not.toBe(before);
    expect(second.network.lease.attrs.backendData).toMatchObject({ PublicKey: ownKey() });
    await finish(second);
  });

  it('never logs the private key or the PSK, even at debug level', async () => {
    const t = await start(`{"Network":"10.244.0.0/16","Backend":{"Type":"wireguard","PSK":"${PSK}"}}`);
    t.ctx.subnetManager.putLease(peer(2));
    await t.ctx.clock.advance(DEFAULT_TIMING.resyncMs);
    const logged = JSON.stringify(t.ctx.logger.entries);
    const priv = readFileSync(process.env.WIREGUARD_KEY_FILE!, 'utf8');
    expect(logged).not.toContain(priv);
    expect(logged).not.toContain(PSK);
    expect(JSON.stringify(t.network.status!())).not.toContain(PSK);
    expect(JSON.stringify(await t.network.diff!())).not.toContain(PSK);
    await finish(t);
  });

  it("reports each peer's handshake and bytes", async () => {
    const t = await start();
    t.ctx.subnetManager.putLease(peer(2));
    await settle();
    const index = link(t.ctx, 'flannel-wg')!.index;
    t.nl.setWgPeerTraffic(index, keyOf(2), { rxBytes: 1000n, txBytes: 2000n, latestHandshake: new Date('2026-01-01T00:00:05Z') });
    expect(await t.network.peerTraffic!()).toEqual([
      {
        device: 'flannel-wg',
        publicKey: keyOf(2),
        subnets: ['10.244.2.0/24'],
        endpoint: '192.0.2.2:51820',
        latestHandshake: '2026-01-01T00:00:05.000Z',
        rxBytes: 1000,
        txBytes: 2000,
      },
    ]);
    await finish(t);
  });

  it('takes no lease on a kernel without WireGuard, and says what is missing', async () => {
    const ctx = context(V4);
    ctx.netlink.wireguard = false;
    await expect(new WireguardBackend(ctx).registerNetwork(loadNetConfig(V4), AbortSignal.timeout(5000))).rejects.toThrow(
      /^Backend.Type: the wireguard backend needs WireGuard in the kernel \(CONFIG_WIREGUARD/,
    );
    expect(ctx.subnetManager.list()).toEqual([]);
  });

  it('replaces a device of another kind under our name', async () => {
    const ctx = context(V4);
    await ctx.netlink.linkAdd({ kind: 'bridge', name: 'flannel-wg' });
    const t = await start(V4, { ctx });
    expect(link(t.ctx, 'flannel-wg')!.kind).toBe('wireguard');
    await finish(t);
  });
});

describe('wireguard dual stack', () => {
  it('separate mode: flannel-wg over IPv4 (MTU − 60), flannel-wg-v6 over IPv6 (MTU − 80), a peer on each', async () => {
    const t = await start(dual(), { v6: true });
    expect(link(t.ctx, 'flannel-wg')).toMatchObject({ mtu: 1440 });
    expect(link(t.ctx, 'flannel-wg-v6')).toMatchObject({ mtu: 1420 });
    expect(t.network.mtu).toBe(1420);
    expect((await t.nl.wgGetDevice('flannel-wg-v6')).listenPort).toBe(51821);
    const lease = t.network.lease;
    expect(lease.attrs).toMatchObject({ backendData: { PublicKey: ownKey(), Port: 51820 }, backendV6Data: { PublicKey: ownKey(), Port: 51821 } });
    const v6dev = link(t.ctx, 'flannel-wg-v6')!;
    expect(t.nl.addrs.filter((a) => a.linkIndex === v6dev.index).map((a) => `${a.ip}/${a.prefixLen}`)).toEqual([`${lease.ipv6Subnet!.ip}/128`]);
    t.ctx.subnetManager.putLease(peer(2, { v6: true }));
    await settle();
    expect(peers(t.ctx, 'flannel-wg')).toEqual([`${keyOf(2)} 192.0.2.2:51820 10.244.2.0/24`]);
    expect(peers(t.ctx, 'flannel-wg-v6')).toEqual([`${keyOf(2)} 2001:db8::2:51821 fd00:10:244:2::/64`]);
    const mtuLog = t.ctx.logger.entries.find((e) => e.msg === 'wireguard MTU')!.obj;
    expect(mtuLog).toEqual({
      devices: [
        { device: 'flannel-wg', mtu: 1440, why: 'interface MTU 1500 − 60 (IPv4 underlay)' },
        { device: 'flannel-wg-v6', mtu: 1420, why: 'interface MTU 1500 − 80 (IPv6 underlay)' },
      ],
      podMtu: 1420,
    });
    await finish(t);
  });

  it('auto mode: one device, one peer with both subnets, reached over public IPv4; flannel-wg-v6 of a previous run removed', async () => {
    const ctx = context(dual(), true);
    await ctx.netlink.linkAdd({ kind: 'wireguard', name: 'flannel-wg-v6' });
    const t = await start(dual('"Type":"wireguard","Mode":"auto"'), { ctx });
    expect(link(t.ctx, 'flannel-wg-v6')).toBeUndefined();
    expect(link(t.ctx, 'flannel-wg')).toMatchObject({ mtu: 1420 }); // auto may use IPv6: − 80
    expect(t.network.lease.attrs).toMatchObject({ backendData: { Port: 51820 }, backendV6Data: { Port: 51820 } });
    t.ctx.subnetManager.putLease(peer(2, { v6: true }));
    await settle();
    expect(peers(t.ctx, 'flannel-wg')).toEqual([`${keyOf(2)} 192.0.2.2:51820 10.244.2.0/24,fd00:10:244:2::/64`]);
    const dev = link(t.ctx, 'flannel-wg')!;
    expect([...t.nl.routes.values()].filter((r) => r.linkIndex === dev.index).map((r) => String(r.dst))).toEqual(['10.244.0.0/16', 'fd00:10:244::/56']);
    await finish(t);
  });

  it('ipv6 mode: the peer reached over IPv6 on our one port; a lease without IPv6 is skipped with the reason', async () => {
    const t = await start(dual('"Type":"wireguard","Mode":"ipv6"'), { v6: true });
    t.ctx.subnetManager.putLease(peer(2, { v6: true }));
    t.ctx.subnetManager.putLease(peer(3));
    await settle();
    expect(peers(t.ctx, 'flannel-wg')).toEqual([`${keyOf(2)} 2001:db8::2:51821 10.244.2.0/24,fd00:10:244:2::/64`]);
    const problems = t.ctx.logger.entries.filter((e) => e.msg === 'skipping peer').flatMap((e) => (e.obj as { problems: string[] }).problems);
    expect(problems).toEqual(['no IPv6 PublicIP (ipv6 mode reaches peers over IPv6)']);
    await finish(t);
  });

  it("MTU set: Go flannel's MTU − 80 on every device", async () => {
    const t = await start(dual('"Type":"wireguard","MTU":1400'), { v6: true });
    expect([link(t.ctx, 'flannel-wg')!.mtu, link(t.ctx, 'flannel-wg-v6')!.mtu, t.network.mtu]).toEqual([1320, 1320, 1320]);
    await finish(t);
  });

  it('refuses one port for both devices in separate mode, and a missing underlay address', async () => {
    await expect(start(dual('"Type":"wireguard","ListenPortV6":51820'), { v6: true })).rejects.toThrow(/^Backend.ListenPortV6: 51820 is also ListenPort/);
    await expect(start(dual())).rejects.toThrow(
      '--iface: eth0 has no IPv6 address, which IPv6 pods travel over in separate mode; pick an interface with one, or set --public-ipv6',
    );
  });
});

describe('cleanup', () => {
  it('removes the devices and the key file, or with dryRun only names them', async () => {
    const t = await start(dual(), { v6: true });
    await finish(t);
    const file = process.env.WIREGUARD_KEY_FILE!;
    const names = await backend.cleanup!({ netlink: t.nl, logger: t.ctx.logger, dryRun: true });
    expect(names.sort()).toEqual(['device flannel-wg', 'device flannel-wg-v6', `file ${file}`]);
    expect(link(t.ctx, 'flannel-wg')).toBeDefined();
    expect(await backend.cleanup!({ netlink: t.nl, logger: t.ctx.logger, dryRun: false })).toHaveLength(3);
    expect([link(t.ctx, 'flannel-wg'), link(t.ctx, 'flannel-wg-v6')]).toEqual([undefined, undefined]);
    expect(await backend.cleanup!({ netlink: t.nl, logger: t.ctx.logger, dryRun: false })).toEqual([]);
  });
});

// The udp backend's control plane over fakes: leases in, proxy table out; flannel0 made, kept and repaired.
// No root, no kernel: the TUN device is a FakeNetlink link, the data path a recorder. The same behaviour
// against the real kernel, with traffic, is in test/e2e/udp.test.ts.
import { IP, IPNet, isUserError, type Lease } from '@flannel-ts/core';
import { FakeNetlink, loadNetConfig, RecordingLogger, settle, testBackendContext, type TestBackendContext } from '@flannel-ts/core/testing';
import type { ProxyCounters } from './counters.js';
import { COUNTER_NAMES } from './counters.js';
import type { DataPath, DataPathInit } from './data-path.js';
import type { TunKernel } from './device.js';
import { backend } from './index.js';
import { ipv4ToNumber as ip } from './ipv4.js';
import type { PeerTableOp } from './peer-table.js';
import type { ProxyNotice } from './proxy-loop.js';
import { kernelHasUdpGso, UdpBackend, type UdpIo } from './udp-backend.js';
import { UDP_TIMING } from './udp-network.js';

const NET_CONF = '{"Network":"10.244.0.0/16","Backend":{"Type":"udp"}}';

/** A kernel's /dev/net/tun over FakeNetlink: persistent devices, numbered names, one fd attached at a time. */
class FakeTun implements TunKernel {
  private nextFd = 100;
  readonly attached = new Map<number, string>();
  readonly acceptLocalSet = new Set<string>();
  readonly txQueueLen = new Map<string, number>();
  constructor(private readonly nl: FakeNetlink) {}

  open(name: string): { fd: number; name: string } {
    let dev = name;
    if (name.includes('%d'))
      for (let i = 0; ; i++)
        if (![...this.nl.links.values()].some((l) => l.name === name.replace('%d', String(i)))) {
          dev = name.replace('%d', String(i));
          break;
        }
    const link = [...this.nl.links.values()].find((l) => l.name === dev);
    if (link && link.kind !== 'tun') throw Object.assign(new Error(`ioctl(TUNSETIFF ${dev}): EINVAL`), { code: 'EINVAL' });
    if (link && [...this.attached.values()].includes(dev)) throw Object.assign(new Error(`ioctl(TUNSETIFF ${dev}): EBUSY`), { code: 'EBUSY' });
    if (!link) {
      // A deleted device's queues are detached from it: the name is free for a new one.
      for (const [fd, name] of this.attached) if (name === dev) this.attached.delete(fd);
      const created = this.nl.addDevice(dev);
      created.kind = 'tun';
      created.up = created.lowerUp = false;
    }
    const fd = this.nextFd++;
    this.attached.set(fd, dev);
    return { fd, name: dev };
  }

  close(fd: number): void {
    this.attached.delete(fd);
  }

  acceptLocal(name: string): boolean {
    if (this.acceptLocalSet.has(name)) return false;
    this.acceptLocalSet.add(name);
    return true;
  }

  setTxQueueLen(name: string, len: number): void {
    this.txQueueLen.set(name, len);
  }
}

class FakeDataPath implements DataPath {
  readonly ops: PeerTableOp[] = [];
  readonly tunFds: number[] = [];
  started = false;
  stopped = false;
  /** What queueLost() answers: set by a test as the worker sets its queue state. */
  lost = false;
  private listeners: ((n: ProxyNotice) => void)[] = [];
  private end!: { resolve: () => void; reject: (e: Error) => void };
  readonly ended = new Promise<void>((resolve, reject) => (this.end = { resolve, reject }));
  constructor(readonly init: DataPathInit) {
    this.tunFds.push(init.tunFd);
    this.ended.catch(() => undefined);
  }
  async start(): Promise<void> {
    this.started = true;
  }
  update(ops: PeerTableOp[]): void {
    this.ops.push(...ops);
  }
  async replaceTun(fd: number): Promise<void> {
    this.tunFds.push(fd);
    this.lost = false;
  }
  queueLost(): boolean {
    return this.lost;
  }
  counters(): ProxyCounters {
    return Object.fromEntries(COUNTER_NAMES.map((n) => [n, 0])) as ProxyCounters;
  }
  onNotice(l: (n: ProxyNotice) => void): void {
    this.listeners.push(l);
  }
  notify(n: ProxyNotice): void {
    for (const l of this.listeners) l(n);
  }
  fail(err: Error): void {
    this.end.reject(err);
  }
  async stop(): Promise<void> {
    this.stopped = true;
    this.end.resolve();
  }
}

interface Harness {
  ctx: TestBackendContext;
  tun: FakeTun;
  io: UdpIo;
  sockets: { ip: number; port: number; fd: number }[];
  paths: FakeDataPath[];
  closed: number[];
}

function harness(ctx: TestBackendContext = testBackendContext(loadNetConfig(NET_CONF))): Harness {
  const tun = new FakeTun(ctx.netlink);
  const h: Harness = { ctx, tun, sockets: [], paths: [], closed: [], io: undefined as unknown as UdpIo };
  let fd = 10;
  h.io = {
    tun,
    openSocket: (ipNum, port) => {
      if (port === 9) throw Object.assign(new Error(`bind(${port}): EADDRINUSE`), { code: 'EADDRINUSE' });
      const s = { ip: ipNum, port, fd: fd++ };
      h.sockets.push(s);
      return { fd: s.fd, gro: true };
    },
    closeFd: (f) => h.closed.push(f),
    dataPath: (init) => {
      const p = new FakeDataPath(init);
      h.paths.push(p);
      return p;
    },
    gso: true,
  };
  return h;
}

async function start(h: Harness, netConf = NET_CONF) {
  const network = await new UdpBackend(h.ctx, h.io).registerNetwork(loadNetConfig(netConf), AbortSignal.timeout(5000));
  const stop = new AbortController();
  const running = network.run(stop.signal);
  await settle();
  return { network, stop, running, path: h.paths.at(-1)!, nl: h.ctx.netlink };
}

async function finish(t: { stop: AbortController; running: Promise<void> }) {
  t.stop.abort();
  await t.running;
}

const flannel0 = (h: Harness) => [...h.ctx.netlink.links.values()].find((l) => l.name === 'flannel0');
const networkRoute = (h: Harness) => [...h.ctx.netlink.routes.values()].find((r) => String(r.dst) === '10.244.0.0/16');
/** A peer lease; an attribute given as undefined is left out. */
const peer = (n: number, attrs: { [K in keyof Lease['attrs']]?: Lease['attrs'][K] | undefined } = {}): Lease => {
  const a: Record<string, unknown> = { publicIP: IP.parse(`192.0.2.${n}`), backendType: 'udp', ...attrs };
  for (const k of Object.keys(a)) if (a[k] === undefined) delete a[k];
  return { subnet: IPNet.parse(`10.244.${n}.0/24`), attrs: a as Lease['attrs'] };
};
/** Past the coalescing and spacing of checks, so that a requested check has run. */
const afterCheck = (h: Harness) => h.ctx.clock.advance(UDP_TIMING.minGapMs + UDP_TIMING.settleMs);

describe('udp backend', () => {
  it('takes a lease marked "udp" without BackendData, after binding the port on the interface address', async () => {
    const h = harness();
    const t = await start(h);
    const [lease] = h.ctx.subnetManager.list();
    expect(lease!.attrs).toEqual({ publicIP: IP.parse('192.0.2.10'), backendType: 'udp' });
    expect(h.sockets).toEqual([{ ip: ip('192.0.2.10'), port: 8285, fd: 10 }]);
    expect(t.network.mtu).toBe(1472);
    await finish(t);
  });

  it('makes flannel0: a TUN of MTU − 28, up, the lease address as /32, the network routed into it; then starts the proxy on it', async () => {
    const h = harness();
    const t = await start(h);
    const link = flannel0(h)!;
    expect(link).toMatchObject({ kind: 'tun', mtu: 1472, up: true });
    const subnet = t.network.lease.subnet!;
    expect(t.nl.addrs.filter((a) => a.linkIndex === link.index).map((a) => `${a.ip}/${a.prefixLen}`)).toEqual([`${subnet.ip}/32`]);
    expect(networkRoute(h)).toMatchObject({ linkIndex: link.index, protocol: 70, scope: 0 });
    expect(networkRoute(h)!.gw).toBeUndefined();
    expect(h.tun.acceptLocalSet.has('flannel0')).toBe(true);
    expect(h.tun.txQueueLen.get('flannel0')).toBe(2000);
    expect(t.path.started).toBe(true);
    expect(t.path.init).toEqual({
      tunFd: 100,
      udpFd: 10,
      ownNet: Number(subnet.ip.value),
      ownMask: 0xffffff00,
      tunIp: Number(subnet.ip.value),
      mtu: 1472,
      gso: true,
    });
    await finish(t);
  });

  it('puts every peer lease into the proxy table, Go’s (no BackendType) as well as ours, and takes them out as they go', async () => {
    const h = harness();
    const t = await start(h);
    expect(t.path.ops).toEqual([]);
    h.ctx.subnetManager.putLease(peer(2));
    h.ctx.subnetManager.putLease(peer(3, { backendType: undefined }));
    await settle();
    const set = (n: number) => ({ op: 'set', net: ip(`10.244.${n}.0`), len: 24, ip: ip(`192.0.2.${n}`), port: 8285 });
    expect(t.path.ops).toEqual([set(2), set(3)]);
    expect(t.network.stats!()).toMatchObject({ peers: 2, skippedPeers: 0 });
    h.ctx.subnetManager.deleteLease(IPNet.parse('10.244.2.0/24'));
    await settle();
    expect(t.path.ops.at(-1)).toEqual({ op: 'del', net: ip('10.244.2.0'), len: 24 });
    expect(t.network.status!()).toMatchObject({ synced: true, peers: [{ subnet: '10.244.3.0/24', state: 'programmed' }] });
    await finish(t);
  });

  it('skips another backend’s lease with a warning that names it', async () => {
    const h = harness();
    const t = await start(h);
    h.ctx.subnetManager.putLease(peer(4, { backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: '0a:00:00:00:00:04' } }));
    await settle();
    expect(t.path.ops).toEqual([]);
    expect(t.network.stats!()).toMatchObject({ peers: 0, skippedPeers: 1 });
    const warning = h.ctx.logger.entries.find((e) => e.msg === 'skipping peer');
    expect(warning?.obj).toMatchObject({ subnet: '10.244.4.0/24', problems: ['BackendType is "vxlan", not "udp" (or none, as Go flannel\'s udp writes)'] });
    await finish(t);
  });

  it('makes flannel0 again under the same name when it is deleted, and hands the new queue to the proxy', async () => {
    const h = harness();
    const t = await start(h);
    const old = flannel0(h)!;
    await t.nl.linkDel(old.index);
    expect(networkRoute(h)).toBeUndefined();
    await afterCheck(h);
    const now = flannel0(h)!;
    expect(now.index).not.toBe(old.index);
    expect(now).toMatchObject({ kind: 'tun', mtu: 1472, up: true });
    expect(networkRoute(h)).toMatchObject({ linkIndex: now.index });
    expect(t.path.tunFds).toEqual([100, 101]);
    expect(t.network.status!().repairs).toEqual({ device: 1 });
    await finish(t);
  });

  it('puts back the route, the address and the MTU someone changed', async () => {
    const h = harness();
    const t = await start(h);
    const link = flannel0(h)!;
    await t.nl.routeDel(networkRoute(h)!);
    await afterCheck(h);
    expect(networkRoute(h)).toMatchObject({ linkIndex: link.index, protocol: 70 });
    const addr = t.nl.addrs.find((a) => a.linkIndex === link.index)!;
    await t.nl.addrDel(addr);
    await t.nl.linkSetMtu(link.index, 1300);
    await afterCheck(h);
    expect(flannel0(h)!.mtu).toBe(1472);
    expect(t.nl.addrs.filter((a) => a.linkIndex === link.index)).toHaveLength(1);
    expect(t.path.tunFds).toEqual([100]);
    await finish(t);
  });

  it('finds a deleted flannel0 at the 10 s check when no notification came', async () => {
    const h = harness();
    const t = await start(h);
    // Deleted without a notification reaching us (say, the monitor was behind): the periodic check finds it.
    h.ctx.netlink.links.delete(flannel0(h)!.index);
    await h.ctx.clock.advance(UDP_TIMING.resyncMs + UDP_TIMING.minGapMs);
    expect(flannel0(h)).toBeDefined();
    expect(t.path.tunFds).toHaveLength(2);
    await finish(t);
  });

  it('gives the proxy a new queue on its flannel0 when it lost the one it had, and only then', async () => {
    const h = harness();
    const t = await start(h);
    const index = flannel0(h)!.index;
    await h.ctx.clock.advance(UDP_TIMING.resyncMs + UDP_TIMING.minGapMs);
    expect(t.path.tunFds).toEqual([100]);
    // The worker gave up queue 100 (its device reported it gone) but flannel0 is there: attach again.
    h.tun.close(100);
    t.path.lost = true;
    await h.ctx.clock.advance(UDP_TIMING.resyncMs + UDP_TIMING.minGapMs);
    expect(t.path.tunFds).toEqual([100, 101]);
    expect(flannel0(h)!.index).toBe(index);
    expect(h.ctx.logger.entries.find((e) => e.msg === 'flannel0 was not as we left it; put it back')?.obj).toMatchObject({ repaired: ['queue'] });
    await finish(t);
  });

  it('skips, with the reason, a lease that could steer traffic that is not its own', async () => {
    const h = harness();
    const t = await start(h);
    const own = t.network.lease;
    for (const lease of [
      peer(2, { backendType: 'vxlan' }),
      { ...peer(3), subnet: IPNet.parse('10.245.3.0/24') },
      { ...peer(4), subnet: IPNet.parse('10.244.128.0/20') },
      peer(5, { publicIP: own.attrs.publicIP }),
      peer(6, { publicIP: undefined }),
      { ipv6Subnet: IPNet.parse('fd00::/64'), attrs: { publicIPv6: IP.parse('2001:db8::7'), backendType: 'udp' } },
    ])
      h.ctx.subnetManager.putLease(lease);
    await settle();
    expect(t.path.ops).toEqual([]);
    const problems = h.ctx.logger.entries.filter((e) => e.msg === 'skipping peer').map((e) => (e.obj as { problems: string[] }).problems);
    expect(problems).toEqual([
      ['BackendType is "vxlan", not "udp" (or none, as Go flannel\'s udp writes)'],
      ['10.245.3.0/24 is outside the network 10.244.0.0/16'],
      ['10.244.128.0/20 is a /20, but node subnets are /24'],
      [`it claims our PublicIP ${own.attrs.publicIP}`],
      ['it has no PublicIP'],
      ['it has no IPv4 subnet (the udp backend carries IPv4 only)'],
    ]);
    expect(t.network.stats!()).toMatchObject({ peers: 0, skippedPeers: 6 });
    await finish(t);
  });

  it('attaches to its flannel0 again after a restart, keeping the device', async () => {
    const h = harness();
    const first = await start(h);
    const index = flannel0(h)!.index;
    await finish(first);
    expect(first.path.stopped).toBe(true);
    h.tun.close(100); // the stopped proxy closed its queue
    const second = await start(h);
    expect(flannel0(h)!.index).toBe(index);
    expect(String(second.network.lease.subnet)).toBe(String(first.network.lease.subnet));
    expect(h.ctx.logger.entries.some((e) => e.msg === 'attached to the existing TUN device')).toBe(true);
    await finish(second);
  });

  it('stops when aborted, stopping the proxy and leaving nothing waiting', async () => {
    const h = harness();
    const t = await start(h);
    await finish(t);
    expect(t.path.stopped).toBe(true);
    expect(h.ctx.clock.waiting).toBe(0);
  });

  it('fails when the data path fails, so that flanneld exits', async () => {
    const h = harness();
    const t = await start(h);
    t.path.fail(new Error('the udp data path failed: boom'));
    await expect(t.running).rejects.toThrow('the udp data path failed: boom');
  });

  it('refuses, naming the field, a bad Port, a port in use (taking no lease), and IPv6', async () => {
    const bad = async (netConf: string) => {
      const h = harness(testBackendContext(loadNetConfig(netConf)));
      const err = await new UdpBackend(h.ctx, h.io).registerNetwork(loadNetConfig(netConf), AbortSignal.timeout(5000)).then(
        () => new Error('registerNetwork succeeded'),
        (e: unknown) => e as Error,
      );
      return { err, h };
    };
    const port = await bad('{"Network":"10.244.0.0/16","Backend":{"Type":"udp","Port":"8285"}}');
    expect(port.err.message).toBe(
      'Backend.Port: error decoding UDP backend config: "8285" is not a port number from 1 to 65535; set Port to the same number on every node, or leave it out for 8285',
    );
    const inUse = await bad('{"Network":"10.244.0.0/16","Backend":{"Type":"udp","Port":9}}');
    expect(isUserError(inUse.err)).toBe(true);
    expect(inUse.err.message).toMatch(/^Backend.Port: failed to start listening on UDP socket 192.0.2.10:9: bind\(9\): EADDRINUSE/);
    expect(inUse.h.ctx.subnetManager.list()).toEqual([]);
    const v6 = await bad('{"Network":"10.244.0.0/16","EnableIPv6":true,"IPv6Network":"fd00::/56","Backend":{"Type":"udp"}}');
    expect(v6.err.message).toMatch(/^EnableIPv6: the udp backend carries IPv4 only/);
  });

  it('uses the Port option for its socket and for every peer', async () => {
    const h = harness();
    const t = await start(h, '{"Network":"10.244.0.0/16","Backend":{"Type":"udp","Port":9285}}');
    h.ctx.subnetManager.putLease(peer(2));
    await settle();
    expect(h.sockets[0]!.port).toBe(9285);
    expect(t.path.ops.at(-1)).toMatchObject({ op: 'set', port: 9285 });
    await finish(t);
  });
});

describe('udp cleanup', () => {
  it('removes flannelN TUN devices and nothing else', async () => {
    const nl = new FakeNetlink();
    const tun = nl.addDevice('flannel0');
    tun.kind = 'tun';
    nl.addDevice('flannel.1').kind = 'vxlan';
    nl.addDevice('flannel7').kind = 'veth';
    const logger = new RecordingLogger();
    expect(await backend.cleanup!({ netlink: nl, logger, dryRun: true })).toEqual(['device flannel0']);
    expect([...nl.links.values()].map((l) => l.name)).toContain('flannel0');
    expect(await backend.cleanup!({ netlink: nl, logger, dryRun: false })).toEqual(['device flannel0']);
    expect([...nl.links.values()].map((l) => l.name).sort()).toEqual(['flannel.1', 'flannel7', 'lo']);
  });
});

describe('kernelHasUdpGso', () => {
  it('is true from Linux 4.18, where a GSO message is cut into datagrams', () => {
    expect(kernelHasUdpGso('4.17.0')).toBe(false);
    expect(kernelHasUdpGso('4.18.0-25-amd64')).toBe(true);
    expect(kernelHasUdpGso('6.1.0-18-amd64')).toBe(true);
    expect(kernelHasUdpGso('unknown')).toBe(false);
  });
});

// The ipsec backend over fakes: leases in, XFRM policies (FakeNetlink) and charon connections (a fake charon)
// out; no root, no ESP, no strongSwan needed. Against the real kernel and charon: test/e2e/ipsec.test.ts.
import { DEFAULT_TIMING, IP, IPNet, type Lease, type Network } from '@flannel-ts/core';
import { loadNetConfig, settle, testBackendContext, type TestBackendContext } from '@flannel-ts/core/testing';
import { FakeCharon } from './fake-charon.test-util.js';
import { IpsecBackend } from './ipsec-backend.js';

const PSK = 'f00d'.repeat(24); // 96 characters
const netConf = (backend: Record<string, unknown> = {}) => JSON.stringify({ Network: '10.244.0.0/16', Backend: { Type: 'ipsec', PSK, ...backend } });

/** Peer n: 10.244.n.0/24 at 192.0.2.n. */
const peer = (n: number, o: { type?: string; ip?: string } = {}): Lease => ({
  subnet: IPNet.parse(`10.244.${n}.0/24`),
  attrs: { publicIP: IP.parse(o.ip ?? `192.0.2.${n}`), backendType: o.type ?? 'ipsec' },
});

async function start(o: { backend?: Record<string, unknown>; ctx?: TestBackendContext; charon?: FakeCharon } = {}) {
  const conf = netConf(o.backend);
  const ctx = o.ctx ?? testBackendContext(loadNetConfig(conf));
  const charon = o.charon ?? new FakeCharon();
  const network: Network = await new IpsecBackend(ctx, { launchCharon: charon.launch }).registerNetwork(loadNetConfig(conf), AbortSignal.timeout(5000));
  const stop = new AbortController();
  const running = network.run(stop.signal);
  await settle();
  const ours = String(network.lease.subnet);
  return { ctx, network, stop, running, charon, ours, nl: ctx.netlink };
}

async function finish(t: { stop: AbortController; running: Promise<void> }) {
  t.stop.abort();
  await t.running;
}

/** `ip xfrm policy` in words: dir src dst tmpl-src tmpl-dst reqid. */
const policies = (t: { nl: TestBackendContext['netlink'] }) =>
  [...t.nl.xfrmPolicies.values()]
    .map((p) => `${p.dir} ${p.src} > ${p.dst} via ${p.tmpls.map((x) => `${x.src} > ${x.dst} ${x.proto} ${x.mode} reqid ${x.reqid}`).join(',')}`)
    .sort();

const conn = (ours: string, n: number) => `192.0.2.10-${ours}-10.244.${n}.0/24-192.0.2.${n}`;

describe('ipsec backend', () => {
  it('takes a lease of type ipsec at our address, MTU − 77 (− 8 more with UDPEncap), and gives charon our PSK', async () => {
    const t = await start();
    expect([t.network.lease.attrs.backendType, String(t.network.lease.attrs.publicIP), t.network.lease.attrs.backendData, t.network.mtu]).toEqual([
      'ipsec',
      '192.0.2.10',
      undefined,
      1423,
    ]);
    expect([...t.charon.current.shared]).toEqual([['flannel-192.0.2.10', { owners: ['192.0.2.10'], psk: PSK }]]);
    await finish(t);
    const encap = await start({ backend: { UDPEncap: true } });
    expect(encap.network.mtu).toBe(1415);
    await finish(encap);
  });

  it("installs Go flannel's three policies per peer and loads its PSK and connection; removes them when it leaves", async () => {
    const t = await start();
    t.ctx.subnetManager.putLease(peer(2));
    await settle();
    expect(policies(t)).toEqual([
      `fwd 10.244.2.0/24 > ${t.ours} via 192.0.2.2 > 192.0.2.10 esp tunnel reqid 11`,
      `in 10.244.2.0/24 > ${t.ours} via 192.0.2.2 > 192.0.2.10 esp tunnel reqid 11`,
      `out ${t.ours} > 10.244.2.0/24 via 192.0.2.10 > 192.0.2.2 esp tunnel reqid 11`,
    ]);
    const d = t.charon.current;
    expect(d.shared.get('flannel-192.0.2.2')).toEqual({ owners: ['192.0.2.2'], psk: PSK });
    expect([...d.conns.keys()]).toEqual([conn(t.ours, 2)]);
    expect(d.conns.get(conn(t.ours, 2))).toEqual({
      local_addrs: ['192.0.2.10'],
      remote_addrs: ['192.0.2.2'],
      proposals: ['aes256-sha256-modp4096'],
      version: '2',
      keyingtries: '0',
      encap: 'no',
      local: { auth: 'psk', id: '192.0.2.10' },
      remote: { auth: 'psk', id: '192.0.2.2' },
      children: {
        [`${t.ours}-10.244.2.0/24`]: {
          local_ts: [t.ours],
          remote_ts: ['10.244.2.0/24'],
          esp_proposals: ['aes128gcm16-sha256-prfsha256-ecp256'],
          start_action: 'start',
          close_action: 'trap',
          dpd_action: 'restart',
          mode: 'tunnel',
          reqid: '11',
          rekey_time: '1h',
          policies: 'no',
        },
      },
    });
    t.ctx.subnetManager.putLease(peer(3));
    await settle();
    expect(policies(t)).toHaveLength(6);
    t.ctx.subnetManager.deleteLease(peer(2).subnet!);
    await settle();
    expect(policies(t).filter((p) => p.includes('10.244.2.0'))).toEqual([]);
    expect(policies(t)).toHaveLength(3);
    expect([...d.conns.keys()]).toEqual([conn(t.ours, 3)]);
    expect([...d.shared.keys()].sort()).toEqual(['flannel-192.0.2.10', 'flannel-192.0.2.3']);
    await finish(t);
  });

  it('skips leases of other types, and a peer that moves to another address gets a new connection', async () => {
    const t = await start();
    t.ctx.subnetManager.putLease(peer(4, { type: 'vxlan' }));
    t.ctx.subnetManager.putLease(peer(5));
    await settle();
    expect(t.network.stats!()).toMatchObject({ peers: 1, skippedPeers: 1 });
    expect([...t.charon.current.conns.keys()]).toEqual([conn(t.ours, 5)]);
    t.ctx.subnetManager.putLease(peer(5, { ip: '192.0.2.55' }));
    await settle();
    expect([...t.charon.current.conns.keys()]).toEqual([`192.0.2.10-${t.ours}-10.244.5.0/24-192.0.2.55`]);
    expect(policies(t).filter((p) => p.startsWith('out'))).toEqual([`out ${t.ours} > 10.244.5.0/24 via 192.0.2.10 > 192.0.2.55 esp tunnel reqid 11`]);
    await finish(t);
  });

  it('puts back a policy deleted by hand as soon as the kernel says so, and counts the repair', async () => {
    const t = await start();
    t.ctx.subnetManager.putLease(peer(2));
    await settle();
    const before = policies(t);
    const fwd = [...t.nl.xfrmPolicies.values()].find((p) => p.dir === 'fwd')!;
    await t.nl.xfrmPolicyDel({ src: fwd.src, dst: fwd.dst, dir: 'fwd' });
    expect(policies(t)).toHaveLength(2);
    await t.ctx.clock.advance(DEFAULT_TIMING.settleMs + DEFAULT_TIMING.minGapMs);
    expect(policies(t)).toEqual(before);
    expect(t.network.status!().repairs).toEqual({ xfrmpolicy: 1 });
    // A flush of every policy is a resync too.
    t.nl.xfrmPolicyFlush();
    await t.ctx.clock.advance(DEFAULT_TIMING.settleMs + DEFAULT_TIMING.minGapMs);
    expect(policies(t)).toEqual(before);
    await finish(t);
  });

  it('leaves policies that are not ours alone: other selectors, marked ones', async () => {
    const t = await start();
    const other = { src: IPNet.parse('172.16.0.0/24'), dst: IPNet.parse('172.16.1.0/24'), dir: 'out' as const, tmpls: [] };
    const ours = IPNet.parse(t.ours);
    const marked = { src: ours, dst: IPNet.parse('10.244.9.0/24'), dir: 'out' as const, mark: { value: 7, mask: 0xff }, tmpls: [] };
    await t.nl.xfrmPolicyUpdate(other);
    await t.nl.xfrmPolicyUpdate(marked);
    await t.ctx.clock.advance(DEFAULT_TIMING.resyncMs + DEFAULT_TIMING.minGapMs);
    expect(t.nl.xfrmPolicies.size).toBe(2);
    await finish(t);
  });

  it('starts charon again when it dies, with our PSK and every peer PSK and connection', async () => {
    const t = await start();
    t.ctx.subnetManager.putLease(peer(2));
    t.ctx.subnetManager.putLease(peer(3));
    await settle();
    t.charon.current.kill();
    await settle();
    expect(t.charon.daemons).toHaveLength(2);
    const d = t.charon.current;
    expect([...d.shared.keys()].sort()).toEqual(['flannel-192.0.2.10', 'flannel-192.0.2.2', 'flannel-192.0.2.3']);
    expect([...d.conns.keys()].sort()).toEqual([conn(t.ours, 2), conn(t.ours, 3)].sort());
    expect(t.network.status!().details?.charon).toMatch(/^charon pid 1001; restarted 1 time\(s\), last at \S+ \(charon killed by SIGKILL; back in \d+ ms\)$/);
    expect(t.ctx.logger.messages('warn')).toContain('charon is gone; starting it again and loading every PSK and connection');
    // A charon that cannot start at once is retried, 100 ms and then 200 ms later.
    t.charon.failStarts = 2;
    t.charon.current.kill();
    await settle();
    expect(t.charon.daemons).toHaveLength(2);
    await t.ctx.clock.advance(100);
    await t.ctx.clock.advance(200);
    expect(t.charon.daemons).toHaveLength(3);
    expect([...t.charon.current.conns.keys()]).toHaveLength(2);
    await finish(t);
    expect(t.ctx.clock.waiting).toBe(0);
  });

  it('retries a connection charon refused, and never logs the PSK, even when charon quotes it', async () => {
    const t = await start();
    let refusals = 2;
    t.charon.current.refuse = (op, arg) => (op === 'load-shared' && refusals-- > 0 ? `invalid secret '${arg}'` : undefined);
    t.ctx.subnetManager.putLease(peer(2));
    await settle();
    expect(t.charon.current.conns.size).toBe(0);
    await t.ctx.clock.advance(1000);
    await t.ctx.clock.advance(1000);
    expect([...t.charon.current.conns.keys()]).toEqual([conn(t.ours, 2)]);
    const warnings = t.ctx.logger.entries.filter((e) => e.msg === 'charon refused a connection; trying again');
    expect(warnings).toHaveLength(2);
    expect(JSON.stringify(warnings[0]!.obj)).toContain('[redacted PSK]');
    await finish(t);
    expect(JSON.stringify(t.ctx.logger.entries)).not.toContain(PSK);
  });

  it("reports each peer's IKE SA, its age and its bytes as tunnel peers, and their states in the status", async () => {
    const t = await start();
    t.ctx.subnetManager.putLease(peer(2));
    t.ctx.subnetManager.putLease(peer(3));
    await settle();
    const at = new Date('2026-01-01T00:00:00Z');
    t.charon.current.sas = [
      { conn: conn(t.ours, 2), state: 'ESTABLISHED', remoteHost: '192.0.2.2', establishedAt: at, bytesIn: 100, bytesOut: 200, installedChildren: 1 },
      { conn: conn(t.ours, 2), state: 'ESTABLISHED', remoteHost: '192.0.2.2', establishedAt: at, bytesIn: 1, bytesOut: 2, installedChildren: 0 },
      { conn: conn(t.ours, 3), state: 'CONNECTING', remoteHost: '192.0.2.3', bytesIn: 0, bytesOut: 0, installedChildren: 0 },
    ];
    expect(await t.network.peerTraffic!()).toEqual([
      {
        device: 'ipsec',
        publicKey: `${conn(t.ours, 2)} (${t.ours}-10.244.2.0/24: ESTABLISHED)`,
        subnets: ['10.244.2.0/24'],
        endpoint: '192.0.2.2',
        latestHandshake: at.toISOString(),
        rxBytes: 101,
        txBytes: 202,
      },
      {
        device: 'ipsec',
        publicKey: `${conn(t.ours, 3)} (${t.ours}-10.244.3.0/24: CONNECTING)`,
        subnets: ['10.244.3.0/24'],
        endpoint: '192.0.2.3',
        rxBytes: 0,
        txBytes: 0,
      },
    ]);
    expect(t.network.status!().details).toMatchObject({
      ipsec: 'IKEv2 with a 96-character PSK; ESP aes128gcm16-sha256-prfsha256-ecp256; UDP encapsulation off; MTU 1423 (interface 1500 − 77)',
      connections: `${conn(t.ours, 2)}: ESTABLISHED+ESTABLISHED, ${conn(t.ours, 3)}: CONNECTING`,
    });
    await finish(t);
  });

  it('refuses an IPv6 network and a short PSK before taking a lease', async () => {
    const v6 = JSON.stringify({ Network: '10.244.0.0/16', EnableIPv6: true, IPv6Network: 'fd00::/56', Backend: { Type: 'ipsec', PSK } });
    const ctx = testBackendContext(loadNetConfig(v6));
    const charon = new FakeCharon();
    await expect(new IpsecBackend(ctx, { launchCharon: charon.launch }).registerNetwork(loadNetConfig(v6), AbortSignal.timeout(5000))).rejects.toThrow(
      'EnableIPv6: the ipsec backend carries IPv4 pods only (as Go flannel); set EnableIPv6 to false, or choose the wireguard backend for dual stack',
    );
    const short = netConf({ PSK: 'x'.repeat(95) });
    await expect(new IpsecBackend(ctx, { launchCharon: charon.launch }).registerNetwork(loadNetConfig(short), AbortSignal.timeout(5000))).rejects.toThrow(
      /password is too short: 95 characters, at least 96/,
    );
    expect([charon.daemons.length, ctx.subnetManager.list().length]).toEqual([0, 0]);
  });
});

// Addresses, routes, neighbours and FDB entries in a fresh namespace, read back through the library and
// through iproute2, plus batch semantics and error texts.
import { jest } from '@jest/globals';
import { IP, IPNet, MAC } from '@flannel-ts/core';
import { NetlinkError, NetlinkHandle, nlconst, requests } from '@flannel-ts/core/netlink';
import { addUnderlay, cleanupNetns, createNetns, ipIn, ipJson, sh } from '../harness/netns.js';
import { DEADLINE } from '../harness/wait.js';

// Milliseconds each when idle; the default 5 s is not enough on a loaded machine.
jest.setTimeout(DEADLINE.testMs);

let ns: string;
let h: NetlinkHandle;
let eth0: number;
let vx: number;

beforeAll(async () => {
  ns = createNetns('addr');
  h = NetlinkHandle.open({ netns: ns });
  addUnderlay(ns);
  eth0 = (await h.linkByName('eth0'))!.index;
  vx = (await h.linkAdd({ kind: 'vxlan', name: 'flannel.1', vxlan: { vni: 1, vtepIndex: eth0, port: 8472, learning: false } })).index;
  await h.linkSetUp(vx);
});
afterAll(() => {
  h?.close();
  cleanupNetns();
});

describe('addresses', () => {
  it('adds, replaces, lists and deletes IPv4 and IPv6 addresses', async () => {
    await h.addrAdd({ linkIndex: eth0, ip: IP.parse('192.0.2.10'), prefixLen: 24 });
    await h.addrReplace({ linkIndex: vx, ip: IP.parse('10.244.1.0'), prefixLen: 32 });
    await h.addrReplace({ linkIndex: vx, ip: IP.parse('10.244.1.0'), prefixLen: 32 }); // replace is idempotent
    await h.addrAdd({ linkIndex: eth0, ip: IP.parse('2001:db8::10'), prefixLen: 64, flags: nlconst.IFA_F_NODAD });

    const v4 = (await h.addrList(4, eth0)).map((a) => `${a.ip}/${a.prefixLen}`);
    expect(v4).toEqual(['192.0.2.10/24']);
    expect((await h.addrList(4, vx)).map((a) => `${a.ip}/${a.prefixLen}`)).toEqual(['10.244.1.0/32']);
    expect((await h.addrList(6, eth0)).map((a) => String(a.ip))).toContain('2001:db8::10');

    const ip = ipJson<{ addr_info: { local: string; prefixlen: number }[] }[]>(ns, '-4', 'addr', 'show', 'dev', 'flannel.1');
    expect(ip[0]?.addr_info.map((a) => `${a.local}/${a.prefixlen}`)).toEqual(['10.244.1.0/32']);

    await expect(h.addrAdd({ linkIndex: eth0, ip: IP.parse('192.0.2.10'), prefixLen: 24 })).rejects.toMatchObject({ code: 'EEXIST' });
    await h.addrDel({ linkIndex: eth0, ip: IP.parse('2001:db8::10'), prefixLen: 64 });
    expect(ipIn(ns, '-6', 'addr', 'show', 'dev', 'eth0')).not.toContain('2001:db8::10');
  });
});

describe('routes', () => {
  beforeAll(async () => {
    await h.addrReplace({ linkIndex: eth0, ip: IP.parse('192.0.2.10'), prefixLen: 24 });
  });

  it('adds the onlink route flannel uses, and ip shows it the same way', async () => {
    // ip route replace 10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink
    await h.routeReplace({ dst: IPNet.parse('10.244.2.0/24'), gw: IP.parse('10.244.2.0'), linkIndex: vx, onlink: true });
    expect(ipIn(ns, 'route', 'show', '10.244.2.0/24').trim()).toBe('10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink');
    const [r] = await h.routeList(4, { dst: IPNet.parse('10.244.2.0/24') });
    expect(r).toMatchObject({
      gw: IP.parse('10.244.2.0'),
      linkIndex: vx,
      onlink: true,
      protocol: nlconst.RTPROT_BOOT,
      scope: nlconst.RT_SCOPE_UNIVERSE,
      table: 254,
    });
  });

  it('gives EEXIST with the kernel text for a duplicate add', async () => {
    const route = { dst: IPNet.parse('10.244.3.0/24'), gw: IP.parse('192.0.2.3'), linkIndex: eth0 };
    await h.routeAdd(route);
    const err = (await h.routeAdd(route).catch((e: unknown) => e)) as NetlinkError;
    expect(err).toBeInstanceOf(NetlinkError);
    expect(err.code).toBe('EEXIST');
    expect(err.message).toMatch(/^ip route add 10\.244\.3\.0\/24 via 192\.0\.2\.3 dev #\d+: file exists \(EEXIST\)/);
  });

  it('filters by table, device and protocol, and tags routes with a protocol number', async () => {
    await h.routeReplace({ dst: IPNet.parse('10.244.9.0/24'), gw: IP.parse('192.0.2.9'), linkIndex: eth0, protocol: 211, priority: 7 });
    await h.routeReplace({ dst: IPNet.parse('10.244.9.0/24'), gw: IP.parse('192.0.2.9'), linkIndex: eth0, table: 1000 });
    expect((await h.routeList(4, { protocol: 211 })).map((r) => String(r.dst))).toEqual(['10.244.9.0/24']);
    expect(ipIn(ns, 'route', 'show', '10.244.9.0/24').trim()).toBe('10.244.9.0/24 via 192.0.2.9 dev eth0 proto 211 metric 7');
    expect((await h.routeList(4, { table: 1000 })).map((r) => `${r.dst} ${r.table}`)).toEqual(['10.244.9.0/24 1000']);
    expect(ipIn(ns, 'route', 'show', 'table', '1000').trim()).toBe('10.244.9.0/24 via 192.0.2.9 dev eth0');
    const onVx = await h.routeList(4, { linkIndex: vx });
    expect(onVx.every((r) => r.linkIndex === vx)).toBe(true);
    await h.routeDel({ dst: IPNet.parse('10.244.9.0/24'), table: 1000 });
    expect(ipIn(ns, 'route', 'show', 'table', '1000').trim()).toBe('');
  });

  it('lists the same main-table routes as ip', async () => {
    const ours = (await h.routeList(4)).map((r) => String(r.dst ?? 'default')).sort();
    const theirs = ipJson<{ dst: string }[]>(ns, 'route', 'show')
      .map((r) => r.dst)
      .sort();
    expect(ours).toEqual(theirs);
  });

  it('answers route get with the device and source, as ip route get does', async () => {
    const r = await h.routeGet(IP.parse('192.0.2.77'));
    expect(r.linkIndex).toBe(eth0);
    expect(String(r.src)).toBe('192.0.2.10');
    await expect(h.routeGet(IP.parse('203.0.113.1'))).rejects.toMatchObject({ code: 'ENETUNREACH' });
  });

  it('handles IPv6 routes', async () => {
    await h.addrReplace({ linkIndex: eth0, ip: IP.parse('2001:db8::10'), prefixLen: 64, flags: nlconst.IFA_F_NODAD });
    await h.routeReplace({ dst: IPNet.parse('fd00:10:244:2::/64'), gw: IP.parse('2001:db8::2'), linkIndex: eth0 });
    expect(ipIn(ns, '-6', 'route', 'show', 'fd00:10:244:2::/64').trim()).toMatch(/^fd00:10:244:2::\/64 via 2001:db8::2 dev eth0/);
    expect((await h.routeList(6, { dst: IPNet.parse('fd00:10:244:2::/64') }))[0]?.gw?.toString()).toBe('2001:db8::2');
  });
});

describe('neighbours and FDB', () => {
  it('sets a permanent neighbour and a self permanent FDB entry, as flannel does for a peer', async () => {
    const mac = MAC.parse('c6:d2:32:6f:8f:44');
    await h.neighSet({ linkIndex: vx, ip: IP.parse('10.244.2.0'), mac, state: nlconst.NUD_PERMANENT });
    await h.fdbReplace({ linkIndex: vx, mac, dst: IP.parse('192.0.2.20') });

    expect(ipIn(ns, 'neigh', 'show', 'dev', 'flannel.1').trim()).toBe('10.244.2.0 lladdr c6:d2:32:6f:8f:44 PERMANENT');
    expect(sh('bridge', ['-n', ns, 'fdb', 'show', 'dev', 'flannel.1'])).toContain('c6:d2:32:6f:8f:44 dst 192.0.2.20 self permanent');
    const [n] = await h.neighList(vx);
    expect([String(n?.ip), String(n?.mac), n?.state]).toEqual(['10.244.2.0', 'c6:d2:32:6f:8f:44', nlconst.NUD_PERMANENT]);
    const fdb = (await h.fdbList(vx)).filter((f) => f.dst);
    expect(fdb.map((f) => `${f.mac} ${f.dst}`)).toEqual(['c6:d2:32:6f:8f:44 192.0.2.20']);

    await h.fdbDel({ linkIndex: vx, mac, dst: IP.parse('192.0.2.20') });
    await h.neighDel({ linkIndex: vx, ip: IP.parse('10.244.2.0') });
    expect(ipIn(ns, 'neigh', 'show', 'dev', 'flannel.1').trim()).toBe('');
    expect(sh('bridge', ['-n', ns, 'fdb', 'show', 'dev', 'flannel.1'])).not.toContain('192.0.2.20');
  });

  it('sets and deletes a permanent IPv6 (NDP) neighbour', async () => {
    await h.neighSet({ linkIndex: vx, ip: IP.parse('fd00:10:244:2::'), mac: MAC.parse('c6:d2:32:6f:8f:45') });
    expect(ipIn(ns, '-6', 'neigh', 'show', 'dev', 'flannel.1').trim()).toBe('fd00:10:244:2:: lladdr c6:d2:32:6f:8f:45 PERMANENT');
    // ip hides NOARP entries (the kernel's own ff02::16); the library lists all, so keep the permanent ones
    const permanent = (await h.neighList(vx, 6)).filter((n) => n.state === nlconst.NUD_PERMANENT);
    expect(permanent.map((n) => `${n.ip} ${n.mac}`)).toEqual(['fd00:10:244:2:: c6:d2:32:6f:8f:45']);
    await h.neighDel({ linkIndex: vx, ip: IP.parse('fd00:10:244:2::') });
    expect(ipIn(ns, '-6', 'neigh', 'show', 'dev', 'flannel.1').trim()).toBe('');
  });

  it('appends several FDB destinations for one MAC', async () => {
    const zero = MAC.parse('00:00:00:00:00:00');
    await h.fdbAppend({ linkIndex: vx, mac: zero, dst: IP.parse('192.0.2.31') });
    await h.fdbAppend({ linkIndex: vx, mac: zero, dst: IP.parse('192.0.2.32') });
    expect(
      (await h.fdbList(vx))
        .filter((f) => f.dst)
        .map((f) => String(f.dst))
        .sort(),
    ).toEqual(['192.0.2.31', '192.0.2.32']);
  });

  it('lists a dump that spans many datagrams, with only the entries of the device asked for', async () => {
    // ~1,500 neighbours take several 32 KB datagrams, and a listing must read them all.
    const n = 1500;
    const ip = (i: number) => IP.parse(`10.251.${i >> 8}.${i & 255}`);
    const mac = (i: number) => MAC.fromBytes(Uint8Array.of(2, 0, 0, 0, (i >> 8) & 255, i & 255));
    const sets = Array.from({ length: n }, (_, i) => requests.neighSet({ linkIndex: vx, ip: ip(i), mac: mac(i), state: nlconst.NUD_PERMANENT }));
    expect((await h.apply(sets)).filter(Boolean)).toEqual([]);
    await h.neighSet({ linkIndex: eth0, ip: IP.parse('192.0.2.77'), mac: mac(0), state: nlconst.NUD_PERMANENT });

    const listed = (await h.neighList(vx)).filter((x) => x.state === nlconst.NUD_PERMANENT);
    expect(listed).toHaveLength(n);
    expect(new Set(listed.map((x) => `${x.ip} ${x.mac}`))).toEqual(new Set(Array.from({ length: n }, (_, i) => `${ip(i)} ${mac(i)}`)));
    expect(listed.every((x) => x.linkIndex === vx)).toBe(true);
    const onEth0 = (await h.neighList(eth0)).map((x) => String(x.ip));
    expect(onEth0).toContain('192.0.2.77');
    expect(onEth0.filter((x) => x.startsWith('10.251.'))).toEqual([]);

    expect((await h.apply(Array.from({ length: n }, (_, i) => requests.neighDel({ linkIndex: vx, ip: ip(i) })))).filter(Boolean)).toEqual([]);
    await h.neighDel({ linkIndex: eth0, ip: IP.parse('192.0.2.77') });
    expect((await h.neighList(vx)).filter((x) => x.state === nlconst.NUD_PERMANENT)).toEqual([]);
  });

  it('gives ENOENT for deleting a neighbour that is not there', async () => {
    const err = (await h.neighDel({ linkIndex: vx, ip: IP.parse('10.244.99.0') }).catch((e: unknown) => e)) as NetlinkError;
    expect(err.code).toBe('ENOENT');
    expect(err.message).toMatch(/^ip neigh del 10\.244\.99\.0 dev #\d+: no such file or directory \(ENOENT\)/);
  });
});

describe('batches', () => {
  it('returns a result per operation, and a failure does not stop the rest', async () => {
    const dst = (i: number) => IPNet.parse(`10.250.${i}.0/24`);
    const ops = [
      requests.routeAdd({ dst: dst(1), gw: IP.parse('192.0.2.1'), linkIndex: eth0 }),
      requests.routeAdd({ dst: dst(1), gw: IP.parse('192.0.2.1'), linkIndex: eth0 }), // duplicate
      requests.neighDel({ linkIndex: vx, ip: IP.parse('10.250.0.0') }), // missing
      requests.linkSet(999_999, { up: true }), // no such device
      requests.routeAdd({ dst: dst(3), gw: IP.parse('192.0.2.3'), linkIndex: eth0 }),
    ];
    const results = await h.apply(ops);
    expect(results.map((r) => r?.code)).toEqual([undefined, 'EEXIST', 'ENOENT', 'ENODEV', undefined]);
    expect(ipIn(ns, 'route', 'show', '10.250.3.0/24')).toContain('via 192.0.2.3');
  });

  it('applies thousands of operations across many sendto batches', async () => {
    const n = 1000;
    const adds = Array.from({ length: n }, (_, i) =>
      requests.routeReplace({ dst: IPNet.parse(`100.64.${i >> 8}.${i & 255}/32`), gw: IP.parse('192.0.2.1'), linkIndex: eth0, protocol: 212 }),
    );
    expect((await h.apply(adds)).filter(Boolean)).toEqual([]);
    expect(ipIn(ns, 'route', 'show', 'proto', '212').trim().split('\n')).toHaveLength(n);
    const dels = Array.from({ length: n }, (_, i) => requests.routeDel({ dst: IPNet.parse(`100.64.${i >> 8}.${i & 255}/32`) }));
    expect((await h.apply(dels)).filter(Boolean)).toEqual([]);
    expect(ipIn(ns, 'route', 'show', 'proto', '212').trim()).toBe('');
  });
});

describe('nexthop objects', () => {
  it('adds a nexthop, routes through it, lists both, and deletes it with its routes', async () => {
    await h.nexthopReplace({ id: 4242, gw: IP.parse('10.244.77.0'), linkIndex: vx, onlink: true, protocol: 70 });
    await h.routeReplace({ dst: IPNet.parse('10.244.77.0/24'), nhid: 4242, protocol: 70 });
    expect(ipJson<{ id: number; gateway: string; dev: string; flags: string[]; protocol: string }[]>(ns, 'nexthop', 'show', 'id', '4242')).toEqual([
      expect.objectContaining({ id: 4242, gateway: '10.244.77.0', dev: 'flannel.1', flags: ['onlink'], protocol: '70' }),
    ]);
    expect(sh('ip', ['-n', ns, 'route', 'show', '10.244.77.0/24']).trim()).toBe('10.244.77.0/24 nhid 4242 via 10.244.77.0 dev flannel.1 proto 70 onlink');
    expect((await h.nexthopList()).find((n) => n.id === 4242)).toMatchObject({ gw: IP.parse('10.244.77.0'), linkIndex: vx, onlink: true, protocol: 70 });
    const [route] = await h.routeList(4, { dst: IPNet.parse('10.244.77.0/24') });
    expect(route).toMatchObject({ nhid: 4242, gw: IP.parse('10.244.77.0'), linkIndex: vx, onlink: true });
    await h.nexthopDel(4242);
    expect(await h.routeList(4, { dst: IPNet.parse('10.244.77.0/24') })).toEqual([]);
    await expect(h.nexthopDel(4242)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

// Links through our netlink library in a fresh namespace, each result read back both through the library
// and through iproute2.
import { jest } from '@jest/globals';
import { IP, MAC } from '@flannel-ts/core';
import { NetlinkArgumentError, NetlinkError, NetlinkHandle } from '@flannel-ts/core/netlink';
import { addUnderlay, cleanupNetns, createNetns, ipIn, ipJson } from '../harness/netns.js';
import { DEADLINE } from '../harness/wait.js';

// Milliseconds each when idle; the default 5 s is not enough on a loaded machine.
jest.setTimeout(DEADLINE.testMs);

let ns: string;
let h: NetlinkHandle;
let eth0: number;

beforeAll(async () => {
  ns = createNetns('links');
  h = NetlinkHandle.open({ netns: ns });
  addUnderlay(ns, '192.0.2.10/24');
  eth0 = (await h.linkByName('eth0'))!.index;
});
afterAll(() => {
  h?.close();
  cleanupNetns();
});

interface IpLink {
  ifname: string;
  ifindex: number;
  mtu: number;
  flags: string[];
  address: string;
  master?: string;
  linkinfo?: { info_kind: string; info_data?: Record<string, unknown> };
}

describe('links', () => {
  it('makes the exact vxlan device flannel makes and reads its attributes back', async () => {
    // Same as: ip link add flannel.1 type vxlan id 1 local 192.0.2.10 dev eth0 dstport 8472 nolearning
    const mac = MAC.parse('0a:58:0a:f4:01:00');
    const link = await h.linkAdd({
      kind: 'vxlan',
      name: 'flannel.1',
      mtu: 1450,
      mac,
      vxlan: { vni: 1, local: IP.parse('192.0.2.10'), vtepIndex: eth0, port: 8472, learning: false },
    });
    expect(link.kind).toBe('vxlan');
    expect(link.mtu).toBe(1450);
    expect(String(link.mac)).toBe('0a:58:0a:f4:01:00');
    expect(link.vxlan).toEqual({
      vni: 1,
      vtepIndex: eth0,
      local: IP.parse('192.0.2.10'),
      group: undefined,
      port: 8472,
      learning: false,
      gbp: false,
      l2miss: false,
      l3miss: false,
    });

    const [ip] = ipJson<IpLink[]>(ns, '-d', 'link', 'show', 'flannel.1');
    expect(ip?.linkinfo?.info_kind).toBe('vxlan');
    expect(ip?.linkinfo?.info_data).toMatchObject({ id: 1, local: '192.0.2.10', link: 'eth0', port: 8472, learning: false });
    expect(ip?.mtu).toBe(1450);
    expect(ip?.address).toBe('0a:58:0a:f4:01:00');
    expect(ipIn(ns, '-d', 'link', 'show', 'flannel.1')).toMatch(/vxlan id 1 local 192\.0\.2\.10 dev eth0 srcport 0 0 dstport 8472 nolearning/);
  });

  it('reads back learning, gbp and the default port of a vxlan made by ip', async () => {
    ipIn(ns, 'link', 'add', 'vx-ip', 'type', 'vxlan', 'id', '42', 'dev', 'eth0', 'gbp', 'learning', 'dstport', '4789');
    const link = await h.linkByName('vx-ip');
    expect(link?.vxlan).toMatchObject({ vni: 42, vtepIndex: eth0, learning: true, gbp: true, port: 4789 });
  });

  it('adds a bridge and a veth pair, sets master, up, MTU and MAC, then deletes', async () => {
    const br = await h.linkAdd({ kind: 'bridge', name: 'cni0' });
    const veth = await h.linkAdd({ kind: 'veth', name: 'veth-a', peer: { name: 'veth-b' } });
    expect([br.kind, veth.kind]).toEqual(['bridge', 'veth']);
    await h.linkSetMaster(veth.index, br.index);
    await h.linkSetMtu(veth.index, 1400);
    await h.linkSetHardwareAddr(veth.index, MAC.parse('02:00:00:00:00:aa'));
    await h.linkSetUp(veth.index);
    await h.linkSetUp(br.index);

    const back = await h.linkByIndex(veth.index);
    expect(back).toMatchObject({ name: 'veth-a', mtu: 1400, up: true, masterIndex: br.index });
    expect(String(back?.mac)).toBe('02:00:00:00:00:aa');
    const [ip] = ipJson<IpLink[]>(ns, 'link', 'show', 'veth-a');
    expect(ip).toMatchObject({ mtu: 1400, master: 'cni0', address: '02:00:00:00:00:aa' });
    expect(ip?.flags).toContain('UP');

    await h.linkSetDown(veth.index);
    await h.linkSetMaster(veth.index, 0);
    expect(await h.linkByIndex(veth.index)).toMatchObject({ up: false, masterIndex: undefined });
    expect(ipJson<IpLink[]>(ns, 'link', 'show', 'veth-a')[0]?.flags).not.toContain('UP');

    await h.linkDel(veth.index);
    expect(await h.linkByName('veth-a')).toBeUndefined();
    expect(await h.linkByName('veth-b')).toBeUndefined(); // the peer goes with it
    expect(() => ipIn(ns, 'link', 'show', 'veth-a')).toThrow();
  });

  it('lists the same links as ip', async () => {
    const ours = (await h.linkList()).map((l) => [l.index, l.name]).sort();
    const theirs = ipJson<IpLink[]>(ns, 'link', 'show')
      .map((l) => [l.ifindex, l.ifname])
      .sort();
    expect(ours).toEqual(theirs);
  });

  it('reports a missing link as undefined and a duplicate add as EEXIST', async () => {
    expect(await h.linkByName('nope0')).toBeUndefined();
    const err = await h.linkAdd({ kind: 'bridge', name: 'cni0' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetlinkError);
    expect((err as NetlinkError).code).toBe('EEXIST');
  });

  it('rejects a device name that is too long before sending anything', async () => {
    await expect(h.linkAdd({ kind: 'bridge', name: 'a-name-of-16-chr' })).rejects.toBeInstanceOf(NetlinkArgumentError);
    await expect(h.linkByName('0123456789abcdef')).rejects.toThrow(/at most 15 bytes/);
    expect(ipJson<IpLink[]>(ns, 'link', 'show').map((l) => l.ifname)).not.toContain('a-name-of-16-chr');
  });
});

describe('coreModule', () => {
  it('injects one netlink handle bound to the namespace, and closes it on unbind', async () => {
    const { Container } = await import('inversify');
    const { coreModule } = await import('@flannel-ts/core/internal');
    const { Netlink } = await import('@flannel-ts/core/netlink');
    const { RecordingLogger } = await import('@flannel-ts/core/testing');
    const container = new Container();
    container.load(coreModule({ netns: ns, logger: new RecordingLogger() }));
    const a = container.get<NetlinkHandle>(Netlink);
    expect(container.get<NetlinkHandle>(Netlink)).toBe(a);
    expect((await a.linkByName('flannel.1'))?.kind).toBe('vxlan'); // made earlier in this namespace
    await container.unbindAllAsync();
    await expect(a.linkList()).rejects.toThrow(/closed/);
  });
});

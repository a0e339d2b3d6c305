// Routes with lightweight-tunnel encapsulation (`ip route … encap ip id N dst IP`), as an external
// geneve device needs them, against this kernel and iproute2: what the library writes, ip reads, and
// the other way round. Any device takes such a route; this host has no geneve, so a veth stands in.
import { jest } from '@jest/globals';
import { IP, IPNet, routeEntry } from '@flannel-ts/core';
import { NetlinkHandle } from '@flannel-ts/core/netlink';
import { addUnderlay, cleanupNetns, createNetns, ipIn, ipJson } from '../harness/netns.js';
import { DEADLINE } from '../harness/wait.js';

jest.setTimeout(DEADLINE.testMs);

interface EncapRouteJson {
  dst: string;
  encap?: string;
  id?: number;
  dev: string;
  protocol: string;
  scope: string;
}

let ns: string;
let h: NetlinkHandle;
let eth0: number;

beforeAll(async () => {
  ns = createNetns('encap');
  h = NetlinkHandle.open({ netns: ns });
  addUnderlay(ns, '192.0.2.11/24');
  ipIn(ns, '-6', 'addr', 'add', '2001:db8::11/64', 'dev', 'eth0', 'nodad');
  eth0 = (await h.linkByName('eth0'))!.index;
});
afterAll(() => {
  h?.close();
  cleanupNetns();
});

describe('routes with tunnel encapsulation', () => {
  it('writes `encap ip id 1 dst 192.0.2.12` that ip shows as written, scope link, proto 70', async () => {
    await h.routeReplace({ dst: IPNet.parse('10.244.2.0/24'), linkIndex: eth0, protocol: 70, encap: { id: 1, dst: IP.parse('192.0.2.12') } });
    expect(ipIn(ns, 'route', 'show', '10.244.2.0/24').trim()).toBe(
      '10.244.2.0/24  encap ip id 1 src 0.0.0.0 dst 192.0.2.12 ttl 0 tos 0 dev eth0 proto 70 scope link',
    );
    const [r] = ipJson<EncapRouteJson[]>(ns, '-d', 'route', 'show', '10.244.2.0/24');
    expect(r).toMatchObject({ encap: 'ip', id: 1, dev: 'eth0', protocol: '70', scope: 'link' });
  });

  it('reads back a route ip wrote with id, dst, src and ttl', async () => {
    ipIn(ns, 'route', 'add', '10.244.7.0/24', 'encap', 'ip', 'id', '7', 'dst', '192.0.2.17', 'src', '192.0.2.11', 'ttl', '9', 'dev', 'eth0', 'proto', '70');
    const [r] = await h.routeList(4, { dst: IPNet.parse('10.244.7.0/24') });
    expect(r?.encap).toEqual({ id: 7, dst: IP.parse('192.0.2.17'), src: IP.parse('192.0.2.11'), ttl: 9 });
    expect(r?.linkIndex).toBe(eth0);
  });

  it('writes and reads `encap ip6` for an IPv6 underlay, with a 24-bit VNI', async () => {
    await h.routeReplace({ dst: IPNet.parse('fd00:0:0:2::/64'), linkIndex: eth0, protocol: 70, encap: { id: 0xabcdef, dst: IP.parse('2001:db8::12') } });
    const [r] = ipJson<EncapRouteJson[]>(ns, '-6', '-d', 'route', 'show', 'fd00:0:0:2::/64');
    expect(r).toMatchObject({ encap: 'ip6', id: 0xabcdef, dev: 'eth0' });
    const [back] = await h.routeList(6, { dst: IPNet.parse('fd00:0:0:2::/64') });
    expect(back?.encap).toEqual({ id: 0xabcdef, dst: IP.parse('2001:db8::12') });
  });

  it('lists a wanted encap route with the same entry value, and a changed remote with another', async () => {
    const want = { dst: IPNet.parse('10.244.3.0/24'), linkIndex: eth0, encap: { id: 1, dst: IP.parse('192.0.2.13') } };
    await h.routeReplace({ ...want, protocol: 70 });
    const [listed] = await h.routeList(4, { dst: want.dst, protocol: 70 });
    expect(routeEntry(listed!).value).toBe(routeEntry(want).value);
    expect(routeEntry({ ...want, encap: { id: 1, dst: IP.parse('192.0.2.14') } }).value).not.toBe(routeEntry(listed!).value);
  });

  it('replaces the remote of an existing route, and deletes it without naming the encapsulation', async () => {
    const dst = IPNet.parse('10.244.4.0/24');
    await h.routeReplace({ dst, linkIndex: eth0, protocol: 70, encap: { id: 1, dst: IP.parse('192.0.2.14') } });
    await h.routeReplace({ dst, linkIndex: eth0, protocol: 70, encap: { id: 1, dst: IP.parse('192.0.2.24') } });
    expect((await h.routeList(4, { dst })).map((r) => String(r.encap?.dst))).toEqual(['192.0.2.24']);
    await h.routeDel({ dst, linkIndex: eth0, protocol: 70, encap: { id: 1, dst: IP.parse('192.0.2.24') } });
    expect(await h.routeList(4, { dst })).toEqual([]);
  });
});

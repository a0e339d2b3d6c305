import { IP, IPNet } from '@flannel-ts/core';
import { requests } from '@flannel-ts/core/netlink';
import { FakeNetlink } from '@flannel-ts/core/testing';
import type { DataPath } from './data-path.js';
import { ipv4ToNumber as ip } from './ipv4.js';
import type { PeerTableOp } from './peer-table.js';
import { ProxyPeerEntry, ProxyTableMirror, withProxyTable } from './proxy-entries.js';

/** A data path that records the table messages it is sent, one array per message. */
const recorder = () => {
  const messages: PeerTableOp[][] = [];
  return { messages, dataPath: { update: (ops: PeerTableOp[]) => messages.push(ops) } as unknown as DataPath };
};
const entry = (n: number, ipText = `192.0.2.${n}`) => new ProxyPeerEntry(IPNet.parse(`10.244.${n}.0/24`), ipText, 8285);

describe('the proxy table through the engine’s netlink', () => {
  it('sends table operations to the data path in one message, in order, and rtnetlink requests to the kernel, results lined up', async () => {
    const nl = new FakeNetlink();
    const { messages, dataPath } = recorder();
    const mirror = new ProxyTableMirror(dataPath);
    const wrapped = withProxyTable(nl, mirror);
    const lo = [...nl.links.values()][0]!;
    const route = requests.routeReplace({ dst: IPNet.parse('10.9.0.0/16'), linkIndex: lo.index, protocol: 70 });
    const badRoute = requests.routeDel({ dst: IPNet.parse('10.8.0.0/16'), linkIndex: lo.index, protocol: 70 });
    const results = await wrapped.apply([entry(2).put(), route, entry(3).put(), badRoute, entry(2).del()]);
    expect(messages).toEqual([
      [
        { op: 'set', net: ip('10.244.2.0'), len: 24, ip: ip('192.0.2.2'), port: 8285 },
        { op: 'set', net: ip('10.244.3.0'), len: 24, ip: ip('192.0.2.3'), port: 8285 },
        { op: 'del', net: ip('10.244.2.0'), len: 24 },
      ],
    ]);
    expect(results.map((r) => r?.code)).toEqual([undefined, undefined, undefined, 'ESRCH', undefined]);
    expect([...nl.routes.values()].map((r) => String(r.dst))).toContain('10.9.0.0/16');
    expect(mirror.list().map((e) => `${e.key} ${e.value}`)).toEqual(['udppeer 10.244.3.0/24 192.0.2.3:8285']);
    // Everything else is the kernel's Netlink, unchanged.
    expect((await wrapped.linkList()).map((l) => l.name)).toEqual(['lo']);
  });

  it('compares entries by subnet (key) and next hop (value), as the engine diffs them', () => {
    expect(entry(2).key).toBe(entry(2, '198.51.100.2').key);
    expect(entry(2).value).not.toBe(entry(2, '198.51.100.2').value);
    expect(new ProxyPeerEntry(IPNet.parse('10.244.2.0/24'), IP.parse('192.0.2.2').toString(), 9285).value).toBe('192.0.2.2:9285');
  });

  it('refuses, with a message that says why, to be sent to the kernel as a netlink message', async () => {
    const nl = new FakeNetlink();
    const request = entry(2).put();
    expect(() => request.body(undefined as never)).toThrow(
      '"proxy set 10.244.2.0/24 via 192.0.2.2:8285" is an operation on the udp proxy\'s table, not a netlink message',
    );
    expect((await withProxyTable(nl, new ProxyTableMirror(recorder().dataPath)).apply([])).length).toBe(0);
  });
});

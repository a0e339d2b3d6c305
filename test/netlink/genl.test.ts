// Generic netlink through NetlinkHandle on this kernel: family lookup on the controller, and generic
// requests in one `apply` batch with rtnetlink ones. The wireguard family itself is exercised against a
// kernel that has it in test/e2e/wireguard.test.ts (the nested kernel).
import { jest } from '@jest/globals';
import { IP } from '@flannel-ts/core';
import { NetlinkError, NetlinkHandle, requests, wgKeyFromBase64 } from '@flannel-ts/core/netlink';
import { missingKernelFeature } from '../harness/kernel-features.js';
import { addUnderlay, cleanupNetns, createNetns, ipJson } from '../harness/netns.js';
import { DEADLINE } from '../harness/wait.js';

jest.setTimeout(DEADLINE.testMs);

let ns: string;
let h: NetlinkHandle;
let eth0: number;

beforeAll(async () => {
  ns = createNetns('genl');
  h = NetlinkHandle.open({ netns: ns });
  addUnderlay(ns);
  eth0 = (await h.linkByName('eth0'))!.index;
});
afterAll(() => {
  h?.close();
  cleanupNetns();
});

describe('generic netlink', () => {
  it("resolves a family through the controller: nlctrl is the controller's own, id 0x10", async () => {
    const ctrl = await h.genlFamily('nlctrl');
    expect(ctrl).toMatchObject({ name: 'nlctrl', id: 0x10 });
    expect(ctrl.mcastGroups).toHaveProperty('notify');
    expect(await h.genlFamily('nlctrl')).toBe(ctrl); // asked once, then remembered
  });

  it('says ENOENT for a family the kernel does not have', async () => {
    const err = await h.genlFamily('fts-no-such').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetlinkError);
    expect(err).toMatchObject({ code: 'ENOENT', op: 'genl ctrl get name fts-no-such' });
  });

  it('runs generic and rtnetlink requests of one batch in order, one result each', async () => {
    const addr = { linkIndex: eth0, ip: IP.parse('198.18.0.1'), prefixLen: 32 };
    const peer = requests.wgPeerSet('fts-nowg0', { publicKey: wgKeyFromBase64('jTbrpui9F1lcWt18KRnDdKJRez/ckda5t/w1zTozCH4='), remove: true });
    const results = await h.apply([requests.addrAdd(addr), peer, requests.addrDel(addr), requests.addrDel(addr)]);
    // Without wireguard the family is unknown; with it, the device is.
    const wgError = missingKernelFeature('wireguard') ? 'ENOENT' : 'ENODEV';
    expect(results.map((r) => r?.code)).toEqual([undefined, wgError, undefined, 'EADDRNOTAVAIL']);
    expect(results[1]!.message).toMatch(/^wg set fts-nowg0 peer jTbrpui9F1lcWt18KRnDdKJRez\/ckda5t\/w1zTozCH4= remove: /);
    expect(ipJson<{ addr_info: unknown[] }[]>(ns, '-4', 'addr', 'show', 'dev', 'eth0').flatMap((l) => l.addr_info)).toEqual([]);
  });
});

// TUN devices and sysctls, in a fresh namespace, checked with ip and /proc as seen from that namespace.
import { jest } from '@jest/globals';
import { closeTun, NetlinkHandle, setAcceptRa, setForwarding, sysctlGet, sysctlSet, tunOpen } from '@flannel-ts/core/netlink';
import { cleanupNetns, createNetns, execIn, ipIn, sh } from '../harness/netns.js';
import { DEADLINE } from '../harness/wait.js';

// Milliseconds each when idle; the default 5 s is not enough on a loaded machine.
jest.setTimeout(DEADLINE.testMs);

let ns: string;
let h: NetlinkHandle;
beforeAll(() => {
  ns = createNetns('tun');
  h = NetlinkHandle.open({ netns: ns });
});
afterAll(() => {
  h?.close();
  cleanupNetns();
});

describe('tun', () => {
  it('creates a numbered TUN device in the namespace, gone when its fd closes', async () => {
    const dev = tunOpen('flannel%d', { netns: ns });
    expect(dev.name).toBe('flannel0');
    expect(ipIn(ns, '-d', 'link', 'show', 'flannel0')).toMatch(/tun type tun pi off/);
    expect((await h.linkByName('flannel0'))?.kind).toBe('tun');
    expect(() => sh('ip', ['link', 'show', 'flannel0'])).toThrow(); // not in our own namespace
    closeTun(dev);
    expect(await h.linkByName('flannel0')).toBeUndefined();
  });

  it('keeps a persistent device after close, like ip tuntap add', async () => {
    closeTun(tunOpen('tun-keep', { netns: ns, persist: true }));
    const link = await h.linkByName('tun-keep');
    expect(link?.kind).toBe('tun');
    await h.linkDel(link!.index);
  });
});

describe('sysctl', () => {
  it('reads and writes the namespace’s own settings', () => {
    ipIn(ns, 'link', 'add', 'flannel.1', 'type', 'bridge');
    setForwarding(4, true, { netns: ns });
    expect(sysctlGet('net/ipv4/ip_forward', { netns: ns })).toBe('1');
    expect(execIn(ns, 'cat', '/proc/sys/net/ipv4/ip_forward').trim()).toBe('1');
    setAcceptRa('flannel.1', 0, { netns: ns });
    expect(execIn(ns, 'cat', '/proc/sys/net/ipv6/conf/flannel.1/accept_ra').trim()).toBe('0');
    setForwarding(4, false, { netns: ns });
    expect(sysctlGet('net/ipv4/ip_forward', { netns: ns })).toBe('0');
  });

  it('refuses keys outside /proc/sys/net', () => {
    expect(() => sysctlSet('kernel/hostname', 'x', { netns: ns })).toThrow(/not a net sysctl key/);
    expect(() => sysctlGet('net/../kernel/hostname')).toThrow(/not a net sysctl key/);
  });
});

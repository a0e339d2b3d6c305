// TUN devices and sysctls, in a fresh namespace, checked with ip and /proc as seen from that namespace.
import { readSync, writeSync } from 'node:fs';
import { jest } from '@jest/globals';
import { closeTun, NetlinkHandle, setAcceptRa, setForwarding, sysctlGet, sysctlSet, tunOpen } from '@flannel-ts/core/netlink';
import { cleanupNetns, createNetns, execIn, ipIn, ipJson, sh } from '../harness/netns.js';
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

  it('attaches to a persistent device of that name again, and refuses a second fd while one holds it', async () => {
    const first = tunOpen('tun-again', { netns: ns, persist: true });
    const index = (await h.linkByName('tun-again'))!.index;
    expect(() => tunOpen('tun-again', { netns: ns })).toThrow(/EBUSY/);
    closeTun(first);
    const again = tunOpen('tun-again', { netns: ns });
    expect(again.name).toBe('tun-again');
    expect((await h.linkByName('tun-again'))!.index).toBe(index);
    closeTun(again);
    await h.linkDel(index);
  });

  it('reads and writes bare IPv4 packets (no packet information), and never blocks when non-blocking', async () => {
    const dev = tunOpen('tun-nb%d', { netns: ns, nonBlocking: true });
    try {
      const buf = Buffer.alloc(2048);
      expect(() => readSync(dev.fd, buf)).toThrow(expect.objectContaining({ code: 'EAGAIN' }));
      ipIn(ns, 'addr', 'add', '10.99.0.1/32', 'dev', dev.name);
      ipIn(ns, 'link', 'set', dev.name, 'up');
      ipIn(ns, 'route', 'add', '10.99.0.0/16', 'dev', dev.name);
      // A UDP datagram routed into the device is queued by the time the sender returns, and comes out of the
      // fd as one IPv4 packet from its first byte (anything else the kernel sent there, IPv6 MLD say, is skipped).
      execIn(ns, 'bash', '-c', 'echo hi > /dev/udp/10.99.1.2/9');
      let len = 0;
      for (;;) {
        len = readSync(dev.fd, buf); // throws EAGAIN, failing the test, if the datagram never came
        if (buf[0] === 0x45 && buf[9] === 17) break;
      }
      expect(buf[0]).toBe(0x45);
      expect(buf.readUInt16BE(2)).toBe(len);
      expect([...buf.subarray(16, 20)]).toEqual([10, 99, 1, 2]);
      // And a packet written to the fd is received by the kernel as if it came in on the device.
      const rx = Number(ipJson<{ stats64: { rx: { packets: number } } }[]>(ns, '-s', 'link', 'show', dev.name)[0]!.stats64.rx.packets);
      expect(writeSync(dev.fd, buf, 0, len)).toBe(len);
      expect(ipJson<{ stats64: { rx: { packets: number } } }[]>(ns, '-s', 'link', 'show', dev.name)[0]!.stats64.rx.packets).toBe(rx + 1);
    } finally {
      closeTun(dev);
    }
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

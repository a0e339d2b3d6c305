// Device offloads through the ethtool generic netlink family (and the SIOCETHTOOL fallback) on real devices
// in a fresh namespace, every result read back both through our FEATURES_GET and through `ethtool -k`.
import { jest } from '@jest/globals';
import { IP, MAC } from '@flannel-ts/core';
import { ioctlGetTxChecksum, ioctlSetTxChecksum, NetlinkError, NetlinkHandle, type EthtoolFeatures } from '@flannel-ts/core/netlink';
import { addUnderlay, cleanupNetns, createNetns, execIn } from '../harness/netns.js';
import { DEADLINE } from '../harness/wait.js';

jest.setTimeout(DEADLINE.testMs);

let ns: string;
let h: NetlinkHandle;

beforeAll(async () => {
  ns = createNetns('ethtool');
  h = NetlinkHandle.open({ netns: ns });
  addUnderlay(ns, '192.0.2.10/24');
  const eth0 = (await h.linkByName('eth0'))!.index;
  // The device flannel makes: ip link add flannel.1 type vxlan id 1 local 192.0.2.10 dev eth0 dstport 8472 nolearning
  await h.linkAdd({
    kind: 'vxlan',
    name: 'flannel.1',
    mtu: 1450,
    mac: MAC.parse('0a:58:0a:f4:01:00'),
    vxlan: { vni: 1, local: IP.parse('192.0.2.10'), vtepIndex: eth0, port: 8472, learning: false },
  });
});
afterAll(() => {
  h?.close();
  cleanupNetns();
});

interface Shown {
  on: boolean;
  fixed: boolean;
}

/** `ethtool -k DEV` as name → state; lines look like "\ttx-checksum-ip-generic: on [fixed]". */
function ethtoolK(dev: string): Map<string, Shown> {
  const out = new Map<string, Shown>();
  for (const line of execIn(ns, 'ethtool', '-k', dev).split('\n')) {
    const m = /^\s*([\w-]+): (on|off)( \[fixed\])?/.exec(line);
    if (m) out.set(m[1]!, { on: m[2] === 'on', fixed: m[3] !== undefined });
  }
  return out;
}

/** The lines of `ethtool -k` that sum up several features under the old ioctl flag names (by ethtool version). */
const LEGACY_GROUPS = [
  'generic-receive-offload',
  'generic-segmentation-offload',
  'large-receive-offload',
  'ntuple-filters',
  'receive-hashing',
  'rx-checksumming',
  'rx-vlan-offload',
  'scatter-gather',
  'tcp-segmentation-offload',
  'tx-checksumming',
  'tx-vlan-offload',
  'udp-fragmentation-offload',
];

const txChecksum = (f: EthtoolFeatures) => Object.fromEntries(f.features.filter((x) => x.name.startsWith('tx-checksum-')).map((x) => [x.name, x.active]));

describe('FEATURES_GET', () => {
  it('reads every feature of the vxlan device as ethtool -k shows it: on/off and [fixed]', async () => {
    const ours = await h.ethtoolFeatures('flannel.1');
    const theirs = ethtoolK('flannel.1');
    expect(ours.device).toBe('flannel.1');
    expect(ours.ifindex).toBe((await h.linkByName('flannel.1'))!.index);
    expect(ours.features.length).toBeGreaterThan(40);
    // ethtool -k lists every named kernel feature (the kernel leaves a few bits unnamed: ours are "#INDEX"),
    // plus ethtool's legacy group lines, which are not features.
    const named = ours.features.filter((f) => !f.name.startsWith('#'));
    const ourNames = new Set(named.map((f) => f.name));
    expect([...theirs.keys()].filter((n) => !ourNames.has(n) && !LEGACY_GROUPS.includes(n))).toEqual([]);
    // A group of one feature is shown under the group's name only (tx-vlan-hw-insert as tx-vlan-offload).
    const shown = named.filter((f) => theirs.has(f.name));
    expect(shown.length).toBeGreaterThan(named.length - LEGACY_GROUPS.length);
    for (const f of shown) expect({ name: f.name, ...theirs.get(f.name) }).toEqual({ name: f.name, on: f.active, fixed: !f.changeable });
    expect(ours.features.find((f) => f.name === 'tx-checksum-ip-generic')).toMatchObject({ active: true, changeable: true });
  });

  it('fails with ENODEV, naming the command, for a device that is not there', async () => {
    const err = await h.ethtoolFeatures('fts-nodev').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetlinkError);
    expect(err).toMatchObject({ code: 'ENODEV', op: 'ethtool -k fts-nodev' });
  });
});

describe('linkSetTxChecksum over generic netlink', () => {
  it('turns tx-checksum-ip-generic off on the vxlan device, then on again', async () => {
    await h.linkSetTxChecksum('flannel.1', false);
    expect(txChecksum(await h.ethtoolFeatures('flannel.1'))).toEqual({
      'tx-checksum-ipv4': false,
      'tx-checksum-ip-generic': false,
      'tx-checksum-ipv6': false,
      'tx-checksum-fcoe-crc': false,
      'tx-checksum-sctp': false,
    });
    expect(execIn(ns, 'ethtool', '-k', 'flannel.1')).toMatch(/^tx-checksumming: off$[^]*^\s+tx-checksum-ip-generic: off$/m);

    await h.linkSetTxChecksum('flannel.1', true);
    expect(txChecksum(await h.ethtoolFeatures('flannel.1'))).toMatchObject({ 'tx-checksum-ip-generic': true });
    expect(ethtoolK('flannel.1').get('tx-checksum-ip-generic')).toEqual({ on: true, fixed: false });
  });

  it('turns every TX checksum feature of a veth off (ip-generic and sctp), leaving the rest', async () => {
    const before = await h.ethtoolFeatures('eth0');
    await h.linkSetTxChecksum('eth0', false);
    const after = await h.ethtoolFeatures('eth0');
    const theirs = ethtoolK('eth0');
    expect(theirs.get('tx-checksum-ip-generic')?.on).toBe(false);
    expect(theirs.get('tx-checksum-sctp')?.on).toBe(false);
    // Only the checksum bits were asked for; what the kernel drops with them (TSO needs checksums) is its own doing.
    const wantedChanged = after.features.filter((f, i) => f.wanted !== before.features[i]!.wanted).map((f) => f.name);
    expect(wantedChanged.sort()).toEqual(['tx-checksum-ip-generic', 'tx-checksum-sctp']);
    await h.linkSetTxChecksum('eth0', true);
    expect(ethtoolK('eth0').get('tx-checksum-ip-generic')?.on).toBe(true);
  });

  it('says which features stayed on when the device does not let them change (lo), where ethtool says nothing', async () => {
    const err = await h.linkSetTxChecksum('lo', false).catch((e: unknown) => e);
    expect((err as Error).message).toBe(
      'ethtool -K lo tx off: tx-checksum-ip-generic ([fixed]: the device does not let it change), ' +
        'tx-checksum-sctp ([fixed]: the device does not let it change) stayed on',
    );
  });

  it('fails with ENODEV for a device that is not there', async () => {
    await expect(h.linkSetTxChecksum('fts-nodev', false)).rejects.toMatchObject({ code: 'ENODEV' });
  });
});

describe('the SIOCETHTOOL fallback (kernels before 5.7)', () => {
  it('turns TX checksum offload off and on, read back by the ioctl, by FEATURES_GET and by ethtool -k', async () => {
    expect(ioctlSetTxChecksum(ns, 'flannel.1', false)).toBe(false);
    expect(ioctlGetTxChecksum(ns, 'flannel.1')).toBe(false);
    expect(txChecksum(await h.ethtoolFeatures('flannel.1'))['tx-checksum-ip-generic']).toBe(false);
    expect(ethtoolK('flannel.1').get('tx-checksum-ip-generic')?.on).toBe(false);

    expect(ioctlSetTxChecksum(ns, 'flannel.1', true)).toBe(true);
    expect(ethtoolK('flannel.1').get('tx-checksum-ip-generic')?.on).toBe(true);
  });

  it('acts in the given namespace only', () => {
    const other = createNetns('ethtool-other');
    execIn(other, 'ip', 'link', 'add', 'flannel.1', 'type', 'vxlan', 'id', '1', 'dstport', '8472');
    expect(ioctlSetTxChecksum(other, 'flannel.1', false)).toBe(false);
    expect(ioctlGetTxChecksum(ns, 'flannel.1')).toBe(true);
    expect(ethtoolK('flannel.1').get('tx-checksum-ip-generic')?.on).toBe(true);
    expect(() => ioctlGetTxChecksum(ns, 'fts-nodev')).toThrow('ethtool -k fts-nodev (SIOCETHTOOL): no such device (ENODEV)');
  });

  it('fails with EOPNOTSUPP, naming the command, when the device can change no TX checksum feature', () => {
    expect(() => ioctlSetTxChecksum(ns, 'lo', false)).toThrow('ethtool -K lo tx off (SIOCETHTOOL): operation not supported (EOPNOTSUPP)');
  });
});

// External interface selection (Go flanneld's rules) against real interfaces in a namespace.
import { IP } from '@flannel-ts/core';
import { selectExternalInterface, type InterfaceQuery } from '../../flanneld/src/select-interface.js';
import { NetlinkHandle } from '@flannel-ts/core/netlink';
import { cleanupNetns, createNetns, ipIn } from '../harness/netns.js';

let ns: string;
let nl: NetlinkHandle;
const query = (q: Partial<InterfaceQuery>): InterfaceQuery => ({ ifaces: [], ifaceRegexes: [], ipv4: true, ipv6: false, ...q });
const pick = async (q: Partial<InterfaceQuery>) => {
  const { extIface, reason } = await selectExternalInterface(nl, query(q));
  return { name: extIface.iface.name, ifaceAddr: String(extIface.ifaceAddr), extAddr: String(extIface.extAddr), reason };
};

beforeAll(() => {
  ns = createNetns('iface');
  for (const [dev, cidr] of [
    ['eth0', '192.0.2.5/24'],
    ['eth1', '198.51.100.5/24'],
    ['bare', undefined],
  ] as const) {
    ipIn(ns, 'link', 'add', dev, 'type', 'veth', 'peer', 'name', `${dev}-p`);
    if (cidr) ipIn(ns, 'addr', 'add', cidr, 'dev', dev);
    ipIn(ns, 'link', 'set', dev, 'up');
    ipIn(ns, 'link', 'set', `${dev}-p`, 'up');
  }
  ipIn(ns, 'route', 'add', 'default', 'via', '192.0.2.1', 'dev', 'eth0');
  nl = NetlinkHandle.open({ netns: ns });
});
afterAll(() => {
  nl?.close();
  cleanupNetns();
});

describe('selectExternalInterface', () => {
  it('takes the default-route interface when nothing is given', async () => {
    expect(await pick({})).toEqual({ name: 'eth0', ifaceAddr: '192.0.2.5', extAddr: '192.0.2.5', reason: 'it carries the default route' });
  });

  it('takes the interface that holds --public-ip when no --iface is given', async () => {
    expect(await pick({ publicIP: IP.parse('198.51.100.5') })).toMatchObject({ name: 'eth1', reason: 'it holds --public-ip 198.51.100.5' });
  });

  it('tries each --iface in order, by name or by IP', async () => {
    expect(await pick({ ifaces: ['nosuch', 'eth1'] })).toMatchObject({ name: 'eth1', reason: '--iface=eth1' });
    expect(await pick({ ifaces: ['198.51.100.5'] })).toMatchObject({ name: 'eth1', ifaceAddr: '198.51.100.5' });
  });

  it('matches --iface-regex against addresses first, then names', async () => {
    expect(await pick({ ifaceRegexes: [/^198\.51/] })).toMatchObject({ name: 'eth1' });
    expect(await pick({ ifaceRegexes: [/^eth1$/] })).toMatchObject({ name: 'eth1', reason: '--iface-regex=^eth1$' });
  });

  it('follows the route to --iface-can-reach', async () => {
    expect(await pick({ ifaceCanReach: IP.parse('198.51.100.77') })).toMatchObject({ name: 'eth1', ifaceAddr: '198.51.100.5' });
  });

  it('publishes --public-ip while using the interface address locally', async () => {
    expect(await pick({ ifaces: ['eth0'], publicIP: IP.parse('203.0.113.9') })).toMatchObject({ name: 'eth0', ifaceAddr: '192.0.2.5', extAddr: '203.0.113.9' });
  });

  it('says what failed', async () => {
    await expect(pick({ ifaces: ['nosuch'], ifaceRegexes: [/^zz/] })).rejects.toThrow(
      '--iface: Failed to find interface to use that matches the interfaces and/or regexes provided',
    );
    await expect(pick({ ifaces: ['bare'] })).rejects.toThrow('--iface: failed to find IPv4 address for interface bare');
  });
});

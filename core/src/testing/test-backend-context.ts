import type { BackendContext } from '../contracts/backend-plugin.js';
import type { ExternalInterface } from '../contracts/external-interface.js';
import type { NetworkConfig } from '../contracts/network-config.js';
import { IP } from '../ip/ip.js';
import { FakeClock } from './fake-clock.js';
import { FakeNetlink } from './fake-netlink.js';
import { InMemorySubnetManager } from './in-memory-subnet-manager.js';
import { RecordingLogger } from './recording-logger.js';

export interface TestBackendContext extends BackendContext {
  netlink: FakeNetlink;
  clock: FakeClock;
  logger: RecordingLogger;
  subnetManager: InMemorySubnetManager;
}

/**
 * A BackendContext over fakes: an in-memory kernel with an `eth0` of `extMtu` holding `192.0.2.10/24`
 * (and its connected route), an in-memory subnet manager for `config`, a fake clock and a recording logger.
 */
export function testBackendContext(config: NetworkConfig, o: { extIP?: string; extMtu?: number } = {}): TestBackendContext {
  const netlink = new FakeNetlink();
  const eth0 = netlink.addDevice('eth0', o.extMtu ?? 1500);
  const ip = IP.parse(o.extIP ?? '192.0.2.10');
  netlink.addAddress(eth0.index, `${ip}/24`);
  const clock = new FakeClock();
  const extIface: ExternalInterface = { iface: { name: 'eth0', index: eth0.index, mtu: eth0.mtu }, ifaceAddr: ip, extAddr: ip };
  return { netlink, clock, logger: new RecordingLogger(), subnetManager: new InMemorySubnetManager(config, clock), extIface };
}

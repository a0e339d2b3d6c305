import type { IP } from '../ip/ip.js';

/** The host interface that carries overlay traffic, chosen at startup (--iface, --iface-regex, ...). */
export interface ExternalInterface {
  iface: { name: string; index: number; mtu: number };
  /** The interface's own IPv4 / IPv6 address. */
  ifaceAddr?: IP;
  ifaceV6Addr?: IP;
  /** The address peers reach us at: --public-ip / --public-ipv6, else the interface address. */
  extAddr?: IP;
  extV6Addr?: IP;
}
export const ExternalInterface = Symbol.for('flannel-ts.ExternalInterface');

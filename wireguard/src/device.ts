import { FLANNEL_ROUTE_PROTOCOL, IPNet, UserError, type Lease, type Logger, type Netlink, type NetworkConfig } from '@flannel-ts/core';
import { NetlinkError, nlconst, setHostAddress, type Addr, type Link, type Route, type WgSecret } from '@flannel-ts/core/netlink';
import type { WireguardConfig } from './config.js';

export const V4_DEVICE = 'flannel-wg';
export const V6_DEVICE = 'flannel-wg-v6';
export const DEVICE_NAMES = [V4_DEVICE, V6_DEVICE] as const;

/** Outer IPv4 (20) + UDP (8) + WireGuard's data header (16) and authentication tag (16). */
export const OVERHEAD_V4 = 60;
/** The same over IPv6 (40-byte header). Go flannel subtracts this whatever the underlay. */
export const OVERHEAD_V6 = 80;

/** What one of our devices must be. */
export interface WgDeviceSpec {
  name: string;
  listenPort: number;
  mtu: number;
  /** Pod families it carries: its addresses and the routes to the network(s). */
  families: (4 | 6)[];
  /** How its MTU was chosen, for the log and `flannelctl status`. */
  mtuReason: string;
}

/** A device and its link as last seen. */
export interface WgDeviceState {
  spec: WgDeviceSpec;
  link: Link;
}

/**
 * The devices of a mode: `separate` gives each enabled family its own device and port (IPv4 pods over the
 * IPv4 underlay on flannel-wg, IPv6 pods over the IPv6 underlay on flannel-wg-v6); the other modes put both
 * families on flannel-wg. MTUs: unless `MTU` is set (then Go flannel's MTU − 80 everywhere), each device's is
 * the interface's less the overhead of the underlay family its packets travel over: − 60 over IPv4, − 80
 * over IPv6; `auto` may reach a peer over either, so it takes − 80 when this node has an IPv6 address.
 */
export function deviceSpecs(cfg: WireguardConfig, config: NetworkConfig, ifaceMtu: number, hasV6Underlay: boolean): WgDeviceSpec[] {
  const mtuFor = (underlay: 4 | 6, why: string) => {
    if (cfg.mtu !== undefined) return { mtu: cfg.mtu - OVERHEAD_V6, mtuReason: `Backend.MTU ${cfg.mtu} − ${OVERHEAD_V6}, as Go flannel` };
    const overhead = underlay === 4 ? OVERHEAD_V4 : OVERHEAD_V6;
    return { mtu: ifaceMtu - overhead, mtuReason: `interface MTU ${ifaceMtu} − ${overhead} (${why})` };
  };
  if (cfg.mode === 'separate') {
    const out: WgDeviceSpec[] = [];
    if (config.enableIPv4) out.push({ name: V4_DEVICE, listenPort: cfg.listenPort, families: [4], ...mtuFor(4, 'IPv4 underlay') });
    if (config.enableIPv6) out.push({ name: V6_DEVICE, listenPort: cfg.listenPortV6, families: [6], ...mtuFor(6, 'IPv6 underlay') });
    return out;
  }
  const families: (4 | 6)[] = [...(config.enableIPv4 ? [4 as const] : []), ...(config.enableIPv6 ? [6 as const] : [])];
  const underlay = cfg.mode === 'ipv4' ? 4 : cfg.mode === 'ipv6' ? 6 : hasV6Underlay ? 6 : 4;
  const why = cfg.mode === 'auto' ? (hasV6Underlay ? 'auto: peers may be reached over IPv6' : 'auto: this node has no IPv6 underlay') : `${cfg.mode} mode`;
  return [{ name: V4_DEVICE, listenPort: cfg.listenPort, families, ...mtuFor(underlay, why) }];
}

/** Reuses our wireguard device or makes it (replacing a device of another kind under its name), at its MTU. Leaves it down. */
export async function ensureWgLink(nl: Netlink, spec: WgDeviceSpec, logger: Logger): Promise<Link> {
  let link = await nl.linkByName(spec.name);
  if (link && link.kind !== 'wireguard') {
    logger.warn({ device: spec.name, kind: link.kind ?? 'plain' }, 'a device of another kind holds our name; replacing it');
    await nl.linkDel(link.index);
    link = undefined;
  }
  if (!link) {
    try {
      link = await nl.linkAdd({ kind: 'wireguard', name: spec.name, mtu: spec.mtu });
    } catch (err) {
      if (err instanceof NetlinkError && (err.code === 'EOPNOTSUPP' || err.code === 'EINVAL')) {
        throw new UserError(
          'Backend.Type',
          `the wireguard backend needs WireGuard in the kernel (CONFIG_WIREGUARD, Linux 5.6 and later; creating ${spec.name} failed: ${err.message})`,
          'load the module (modprobe wireguard), or choose another backend',
        );
      }
      throw err;
    }
    logger.info({ device: spec.name, mtu: spec.mtu }, 'created wireguard device');
  }
  if (link.mtu !== spec.mtu) await nl.linkSetMtu(link.index, spec.mtu);
  return (await nl.linkByIndex(link.index))!;
}

/** Gives the device our private key and its listen port (`wg set DEV private-key … listen-port …`); peers are the engine's. */
export async function configureWg(nl: Netlink, dev: WgDeviceState, key: WgSecret): Promise<void> {
  try {
    await nl.wgSetDevice!({ device: dev.link.index, privateKey: key, listenPort: dev.spec.listenPort });
  } catch (err) {
    if (err instanceof NetlinkError && err.code === 'EADDRINUSE') {
      const field = dev.spec.name === V6_DEVICE ? 'Backend.ListenPortV6' : 'Backend.ListenPort';
      throw new UserError(field, `UDP port ${dev.spec.listenPort} is in use on this node`, `free it, or set ${field.slice('Backend.'.length)} to another port`);
    }
    throw err;
  }
}

/** The networks a device routes: the cluster network of each family it carries. */
export function networkRoutes(spec: WgDeviceSpec, linkIndex: number, config: NetworkConfig): Route[] {
  const nets = spec.families.map((f) => (f === 4 ? config.network : config.ipv6Network)).filter((n): n is IPNet => n !== undefined);
  return nets.map((dst) => ({ dst, linkIndex, scope: nlconst.RT_SCOPE_LINK, protocol: FLANNEL_ROUTE_PROTOCOL }));
}

/** Our addresses (the lease's network addresses as /32 and /128), the device up, and the network routes. */
export async function setupDevice(nl: Netlink, dev: WgDeviceState, lease: Lease, config: NetworkConfig): Promise<Link> {
  await configureAddresses(nl, dev, lease, config);
  await nl.linkSetUp(dev.link.index);
  for (const r of networkRoutes(dev.spec, dev.link.index, config)) await nl.routeReplace(r);
  return (await nl.linkByIndex(dev.link.index))!;
}

const LINK_LOCAL_V6 = IPNet.parse('fe80::/10');

/** The lease's network address of each family; other addresses in the cluster network (IPv4), or not link-local (IPv6), are removed. */
export async function configureAddresses(nl: Netlink, dev: WgDeviceState, lease: Lease, config: NetworkConfig): Promise<void> {
  for (const f of dev.spec.families) {
    const subnet = f === 4 ? lease.subnet : lease.ipv6Subnet;
    if (!subnet) continue;
    const isStale = f === 4 ? (a: Addr) => config.network?.contains(a.ip) === true : (a: Addr) => !LINK_LOCAL_V6.contains(a.ip);
    await setHostAddress(nl, dev.link.index, subnet.ip, isStale);
  }
}

import { IP, UserError, type ExternalInterface, type Netlink } from '@flannel-ts/core';
import type { Addr, Link } from '@flannel-ts/core/netlink';

const IFA_F_SECONDARY = 0x01; // also IFA_F_TEMPORARY
const IFA_F_DEPRECATED = 0x20;
const IFA_F_PERMANENT = 0x80;
const RT_SCOPE_UNIVERSE = 0;

export interface InterfaceQuery {
  ifaces: string[];
  ifaceRegexes: RegExp[];
  ifaceCanReach?: IP;
  publicIP?: IP;
  publicIPv6?: IP;
  ipv4: boolean;
  ipv6: boolean;
}

export interface Selection {
  extIface: ExternalInterface;
  /** Why this interface, for the startup log. */
  reason: string;
}

/** The external interface, chosen as Go flannel does: --iface names or addresses in order, then --iface-regex, then --iface-can-reach, else the default route's interface. */
export async function selectExternalInterface(nl: Netlink, q: InterfaceQuery): Promise<Selection> {
  const links = await nl.linkList();
  const addrs = await nl.addrList();
  const addrsOf = (l: Link, family?: 4 | 6) => addrs.filter((a) => a.linkIndex === l.index && (!family || a.ip.family === family));
  const owner = (ip: IP) => links.find((l) => addrsOf(l).some((a) => a.ip.equals(ip)));
  const families = [...(q.ipv4 ? [4 as const] : []), ...(q.ipv6 ? [6 as const] : [])];

  let found: { link: Link; reason: string; src?: IP } | undefined;
  if (q.ifaces.length === 0 && q.ifaceRegexes.length === 0 && !q.ifaceCanReach) {
    found = await byDefault(nl, links, owner, q);
  } else {
    for (const spec of q.ifaces) {
      const asIP = IP.tryParse(spec);
      const link = asIP ? owner(asIP) : links.find((l) => l.name === spec);
      if (link) {
        found = { link, reason: `--iface=${spec}` };
        break;
      }
    }
    for (const re of found ? [] : q.ifaceRegexes) {
      const link =
        links.find((l) => addrsOf(l).some((a) => families.includes(a.ip.family as 4 | 6) && re.test(a.ip.toString()))) ?? links.find((l) => re.test(l.name));
      if (link) {
        found = { link, reason: `--iface-regex=${re.source}` };
        break;
      }
    }
    if (!found && q.ifaceCanReach) {
      const route = await nl.routeGet(q.ifaceCanReach);
      const link = links.find((l) => l.index === route.linkIndex);
      if (link) found = { link, reason: `--iface-can-reach=${q.ifaceCanReach} (route via ${link.name})`, ...(route.src ? { src: route.src } : {}) };
    }
    if (!found) {
      throw new UserError(
        '--iface',
        `Failed to find interface to use that matches the interfaces and/or regexes provided (${describeQuery(q)})`,
        `this host has ${describeInterfaces(links, addrs)}`,
      );
    }
  }

  const { link } = found;
  if (link.mtu === 0) throw new UserError('--iface', `failed to determine MTU for ${link.name} interface`, 'pick another interface');
  const ext: ExternalInterface = { iface: { name: link.name, index: link.index, mtu: link.mtu } };
  if (q.ipv4) {
    const addr = found.src?.family === 4 ? found.src : firstUsable(addrsOf(link, 4));
    if (!addr) throw new UserError('--iface', `failed to find IPv4 address for interface ${link.name}`, 'give the interface an address or pick another one');
    ext.ifaceAddr = addr;
    ext.extAddr = q.publicIP ?? addr;
  }
  if (q.ipv6) {
    const addr = found.src?.family === 6 ? found.src : firstUsable(addrsOf(link, 6));
    if (!addr) throw new UserError('--iface', `failed to find IPv6 address for interface ${link.name}`, 'give the interface an address or pick another one');
    ext.ifaceV6Addr = addr;
    ext.extV6Addr = q.publicIPv6 ?? addr;
  }
  return { extIface: ext, reason: found.reason };
}

/**
 * Checked before waiting for the store: when only --iface names or addresses are given and none of them
 * exists, flanneld would wait for the network config and then fail; it fails now, listing what exists.
 */
export async function checkIfacesExist(nl: Netlink, q: Pick<InterfaceQuery, 'ifaces' | 'ifaceRegexes' | 'ifaceCanReach'>): Promise<void> {
  if (q.ifaces.length === 0 || q.ifaceRegexes.length > 0 || q.ifaceCanReach) return;
  const links = await nl.linkList();
  const addrs = await nl.addrList();
  const exists = (spec: string) => {
    const asIP = IP.tryParse(spec);
    return asIP ? addrs.some((a) => a.ip.equals(asIP)) : links.some((l) => l.name === spec);
  };
  if (q.ifaces.some(exists)) return;
  throw new UserError(
    '--iface',
    `no interface is named or holds ${q.ifaces.map((s) => JSON.stringify(s)).join(' or ')}`,
    `this host has ${describeInterfaces(links, addrs)}`,
  );
}

function describeQuery(q: InterfaceQuery): string {
  return [
    ...q.ifaces.map((s) => `--iface=${s}`),
    ...q.ifaceRegexes.map((r) => `--iface-regex=${r.source}`),
    ...(q.ifaceCanReach ? [`--iface-can-reach=${q.ifaceCanReach}`] : []),
  ].join(' ');
}

/** `eth0 (192.0.2.11/24, 2001:db8::11/64), lo (127.0.0.1/8)`: what --iface could name. */
export function describeInterfaces(links: Link[], addrs: Addr[]): string {
  const list = links.map((l) => {
    const mine = addrs.filter((a) => a.linkIndex === l.index).map((a) => `${a.ip}/${a.prefixLen}`);
    return mine.length ? `${l.name} (${mine.join(', ')})` : `${l.name} (no address)`;
  });
  return list.length ? list.join(', ') : 'no interfaces';
}

async function byDefault(nl: Netlink, links: Link[], owner: (ip: IP) => Link | undefined, q: InterfaceQuery): Promise<{ link: Link; reason: string }> {
  if (q.publicIP || q.publicIPv6) {
    const ip = (q.publicIP ?? q.publicIPv6)!;
    const link = owner(ip);
    if (link) return { link, reason: `it holds --public-ip ${ip}` };
  }
  const defaultLink = async (family: 4 | 6) => {
    const routes = await nl.routeList(family);
    const r = routes.find((rt) => !rt.dst || rt.dst.prefixLen === 0);
    return r && links.find((l) => l.index === r.linkIndex);
  };
  const v4 = q.ipv4 ? await defaultLink(4) : undefined;
  const v6 = q.ipv6 ? await defaultLink(6) : undefined;
  if (q.ipv4 && q.ipv6 && v4 && v6 && v4.index !== v6.index) {
    throw new UserError('--iface', `the IPv4 default route uses ${v4.name} but the IPv6 one uses ${v6.name}`, 'choose one with --iface');
  }
  const link = v4 ?? v6;
  if (!link)
    throw new UserError('--iface', 'no default route to pick the external interface from', 'add a default route, or choose the interface with --iface');
  return { link, reason: 'it carries the default route' };
}

/** Global before link-local, permanent before dynamic, primary before temporary; deprecated never. */
function firstUsable(addrs: Addr[]): IP | undefined {
  const rank = (a: Addr) =>
    ((a.scope ?? 0) === RT_SCOPE_UNIVERSE ? 0 : 4) + ((a.flags ?? 0) & IFA_F_PERMANENT ? 0 : 2) + ((a.flags ?? 0) & IFA_F_SECONDARY ? 1 : 0);
  return addrs.filter((a) => ((a.flags ?? 0) & IFA_F_DEPRECATED) === 0).sort((a, b) => rank(a) - rank(b))[0]?.ip;
}

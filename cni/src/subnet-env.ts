import { IPNet } from '@flannel-ts/core/ip';
import { NotRegularFileError, readRegularFile, TooLargeError } from './bounded-read.js';
import { CNI_ERR, CniError } from './cni-error.js';

/** What the plugin takes from subnet.env (facts §8.2). Subnets are masked: 10.1.17.1/24 is 10.1.17.0/24. */
export interface FlannelSubnetEnv {
  networks: IPNet[];
  ipv6Networks: IPNet[];
  subnet?: IPNet;
  ipv6Subnet?: IPNet;
  mtu: number;
  ipMasq: boolean;
}

/** Smallest MTUs the kernel takes on an interface with IPv4 / IPv6 addresses. */
const MIN_MTU = { 4: 68, 6: 1280 } as const;
/** Widest pod subnets that still leave a gateway and one pod address. */
const MAX_PREFIX = { 4: 30, 6: 126 } as const;

/**
 * Read as Go's CNI plugin reads it (split on the first `=`, no quoting), then checked as strictly as ADD
 * needs it: every value a CIDR of the right family (or a decimal MTU), the subnets inside the networks
 * and roomy enough for pods. STATUS and ADD both call this, so STATUS says ready only when ADD can work.
 */
export function loadSubnetEnv(path: string): FlannelSubnetEnv {
  const env = parseLines(readSubnetFile(path));
  const problem = (text: string) => notReady(`${path}: ${text}`);
  const missing: string[] = [];
  if (!env.has('FLANNEL_NETWORK') && !env.has('FLANNEL_IPV6_NETWORK')) missing.push('FLANNEL_NETWORK, FLANNEL_IPV6_NETWORK');
  if (!env.has('FLANNEL_SUBNET') && !env.has('FLANNEL_IPV6_SUBNET')) missing.push('FLANNEL_SUBNET, FLANNEL_IPV6_SUBNET');
  if (!env.has('FLANNEL_MTU')) missing.push('FLANNEL_MTU');
  if (!env.has('FLANNEL_IPMASQ')) missing.push('FLANNEL_IPMASQ');
  if (missing.length) throw notReady(`${path} is missing ${missing.join(', ')}`);

  const cidr = (key: string, text: string, family: 4 | 6): IPNet => {
    const net = IPNet.tryParse(text.trim());
    if (!net) throw problem(`${key} holds ${JSON.stringify(text)}, which is not a CIDR`);
    if (net.family !== family) throw problem(`${key} holds ${text}, which is not an IPv${family} CIDR`);
    return net;
  };
  const networks = (key: string, family: 4 | 6): IPNet[] => {
    const out: IPNet[] = [];
    if (!env.has(key)) return out;
    for (const part of env.get(key)!.split(',')) {
      const net = cidr(key, part, family);
      if (!out.some((n) => n.equals(net))) out.push(net);
    }
    return out;
  };
  const out: FlannelSubnetEnv = {
    networks: networks('FLANNEL_NETWORK', 4),
    ipv6Networks: networks('FLANNEL_IPV6_NETWORK', 6),
    mtu: 0,
    ipMasq: env.get('FLANNEL_IPMASQ') === 'true',
  };
  for (const [key, family, nets] of [
    ['FLANNEL_SUBNET', 4, out.networks],
    ['FLANNEL_IPV6_SUBNET', 6, out.ipv6Networks],
  ] as const) {
    if (!env.has(key)) continue;
    const subnet = cidr(key, env.get(key)!, family);
    if (subnet.prefixLen > MAX_PREFIX[family]) throw problem(`${key} ${subnet} leaves no address for pods (at most /${MAX_PREFIX[family]})`);
    if (!nets.some((n) => n.prefixLen <= subnet.prefixLen && n.contains(subnet.ip))) {
      throw problem(`${key} ${subnet} is not inside ${family === 4 ? 'FLANNEL_NETWORK' : 'FLANNEL_IPV6_NETWORK'}`);
    }
    if (family === 4) out.subnet = subnet;
    else out.ipv6Subnet = subnet;
  }
  const mtuText = env.get('FLANNEL_MTU')!;
  const minMtu = out.ipv6Subnet ? MIN_MTU[6] : MIN_MTU[4];
  out.mtu = /^[0-9]{1,5}$/.test(mtuText) ? Number(mtuText) : NaN;
  if (!(out.mtu >= minMtu && out.mtu <= 65535)) throw problem(`FLANNEL_MTU ${JSON.stringify(mtuText)} is not a decimal MTU from ${minMtu} to 65535`);
  return out;
}

function readSubnetFile(path: string): string {
  try {
    return readRegularFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw notReady(`${path} does not exist: flanneld is not running or not ready on this node`);
    if (err instanceof NotRegularFileError || err instanceof TooLargeError) throw notReady(err.message);
    throw notReady(`cannot read ${path}: ${(err as Error).message}`);
  }
}

function parseLines(text: string): Map<string, string> {
  const env = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) env.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  return env;
}

function notReady(problem: string): CniError {
  return new CniError(CNI_ERR.tryAgainLater, `failed to load flannel 'subnet.env' file: ${problem}. Check the flannel pod log for this node.`);
}

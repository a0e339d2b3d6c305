import { readFileSync } from 'node:fs';
import { IPNet } from '@flannel-ts/core/ip';
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

/**
 * Read as Go's CNI plugin reads it (split on the first `=`, no quoting, a bad CIDR is an error), which is
 * stricter than flanneld's own reader of the same file (core's parseEnvText, dotenv-style).
 */
export function loadSubnetEnv(path: string): FlannelSubnetEnv {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? `${path} does not exist` : (err as Error).message;
    throw notReady(`${why}: flanneld is not running or not ready on this node`);
  }
  const env = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) env.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  const cidrs = (key: string): IPNet[] => {
    const out: IPNet[] = [];
    for (const part of (env.get(key) ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
      const net = IPNet.tryParse(part);
      if (!net) throw notReady(`${path}: ${key} holds ${JSON.stringify(part)}, which is not a CIDR`);
      if (!out.some((n) => n.equals(net))) out.push(net);
    }
    return out;
  };
  const missing: string[] = [];
  if (!env.has('FLANNEL_NETWORK') && !env.has('FLANNEL_IPV6_NETWORK')) missing.push('FLANNEL_NETWORK, FLANNEL_IPV6_NETWORK');
  if (!env.has('FLANNEL_SUBNET') && !env.has('FLANNEL_IPV6_SUBNET')) missing.push('FLANNEL_SUBNET, FLANNEL_IPV6_SUBNET');
  if (!env.has('FLANNEL_MTU')) missing.push('FLANNEL_MTU');
  if (!env.has('FLANNEL_IPMASQ')) missing.push('FLANNEL_IPMASQ');
  if (missing.length) throw notReady(`${path} is missing ${missing.join(', ')}`);
  const mtu = Number(env.get('FLANNEL_MTU'));
  if (!Number.isInteger(mtu) || mtu <= 0) throw notReady(`${path}: FLANNEL_MTU ${JSON.stringify(env.get('FLANNEL_MTU'))} is not a positive number`);
  const out: FlannelSubnetEnv = { networks: cidrs('FLANNEL_NETWORK'), ipv6Networks: cidrs('FLANNEL_IPV6_NETWORK'), mtu, ipMasq: env.get('FLANNEL_IPMASQ') === 'true' };
  const [subnet] = cidrs('FLANNEL_SUBNET');
  const [ipv6Subnet] = cidrs('FLANNEL_IPV6_SUBNET');
  if (subnet) out.subnet = subnet;
  if (ipv6Subnet) out.ipv6Subnet = ipv6Subnet;
  return out;
}

function notReady(problem: string): CniError {
  return new CniError(CNI_ERR.tryAgainLater, `failed to load flannel 'subnet.env' file: ${problem}. Check the flannel pod log for this node.`);
}

import { CNI_ERR, CniError } from './cni-error.js';
import type { FlannelNetConf } from './netconf.js';
import type { FlannelSubnetEnv } from './subnet-env.js';

/**
 * The delegate's config (facts §8.3): bridge with isGateway, ipMasq = !FLANNEL_IPMASQ (flanneld
 * masquerades already), the MTU from subnet.env, host-local IPAM over our subnet(s) with a route to the
 * cluster network(s); every other delegate key passes through.
 */
export function renderDelegate(conf: FlannelNetConf, env: FlannelSubnetEnv): Record<string, unknown> {
  const d: Record<string, unknown> = { ...conf.delegate };
  if ('name' in d) throw new CniError(CNI_ERR.invalidConfig, '"delegate" must not contain "name": it\'ll be set by flannel', 'remove delegate.name; the network name is used');
  if ('ipam' in d) throw new CniError(CNI_ERR.invalidConfig, '"delegate" must not contain "ipam": flannel builds it from subnet.env', 'move IPAM options to the top-level "ipam" object');
  if (d.type !== undefined && typeof d.type !== 'string') throw new CniError(CNI_ERR.invalidConfig, '"delegate.type" must be a string', 'e.g. "bridge"');
  if (conf.runtimeConfig !== undefined) d.runtimeConfig = conf.runtimeConfig;
  d.name = conf.name;
  d.type ??= 'bridge';
  d.ipMasq ??= !env.ipMasq;
  d.mtu ??= env.mtu;
  if (d.type === 'bridge') d.isGateway ??= true;
  if (conf.cniVersion) d.cniVersion = conf.cniVersion;

  const ipam: Record<string, unknown> = { ...(conf.ipam ?? {}) };
  ipam.type ??= 'host-local';
  const ranges: { subnet: string }[][] = [];
  if (env.subnet) ranges.push([{ subnet: String(env.subnet) }]);
  if (env.ipv6Subnet) ranges.push([{ subnet: String(env.ipv6Subnet) }]);
  ipam.ranges = ranges;
  const inputRoutes = Array.isArray(conf.ipam?.routes) ? (conf.ipam.routes as unknown[]) : [];
  ipam.routes = [...inputRoutes, ...env.networks.map((n) => ({ dst: String(n) })), ...env.ipv6Networks.map((n) => ({ dst: String(n) }))];
  d.ipam = ipam;
  return d;
}

/** JSON with keys sorted at every level, as Go's encoding/json writes a map: the saved file matches Go flannel's byte for byte. */
export function stableJson(v: unknown): string {
  return JSON.stringify(v, (_k, val: unknown) =>
    typeof val === 'object' && val !== null && !Array.isArray(val)
      ? Object.fromEntries(Object.entries(val as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : val,
  );
}

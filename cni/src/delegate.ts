import type { Json } from './json.js';
import type { FlannelNetConf } from './netconf.js';
import type { FlannelSubnetEnv } from './subnet-env.js';

/**
 * The delegate's config (facts §8.3): bridge with isGateway, ipMasq = !FLANNEL_IPMASQ (flanneld
 * masquerades already), the MTU from subnet.env, host-local IPAM over our subnet(s) with a route to the
 * cluster network(s); every other delegate key passes through. `cniVersion` is the one negotiated with
 * the delegate. parseNetConf has already refused what Go's plugin refuses here.
 */
export function renderDelegate(conf: FlannelNetConf, env: FlannelSubnetEnv, cniVersion: string): Json {
  const d: Json = { ...conf.delegate };
  if (conf.runtimeConfig !== undefined) d.runtimeConfig = conf.runtimeConfig;
  d.name = conf.name;
  d.type ??= 'bridge';
  d.ipMasq ??= !env.ipMasq;
  d.mtu ??= env.mtu;
  if (d.type === 'bridge') d.isGateway ??= true;
  d.cniVersion = cniVersion;

  const ipam: Json = { ...(conf.ipam ?? {}) };
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

export const delegateType = (conf: FlannelNetConf) => (conf.delegate.type as string | undefined) ?? 'bridge';

/** JSON with keys sorted at every level, as Go's encoding/json writes a map: the saved file matches Go flannel's byte for byte. */
export function stableJson(v: unknown): string {
  return JSON.stringify(v, (_k, val: unknown) =>
    typeof val === 'object' && val !== null && !Array.isArray(val)
      ? Object.fromEntries(Object.entries(val as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : val,
  );
}

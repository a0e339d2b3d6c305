import { CNI_ERR, CniError } from './cni-error.js';
import { isObject, type Json } from './json.js';
import { atLeast, isSupported } from './versions.js';

/** Result layouts: 0.1.0/0.2.0 (`ip4`, `ip6`), 0.3.x/0.4.0 (`ips` with `version`), 1.x (`ips` without it). */
const layout = (v: string) => (atLeast(v, '1.0.0') ? 'v1' : atLeast(v, '0.3.0') ? 'v04' : 'legacy');

/** A delegate's ADD output must be a result: an object naming its version, with lists where lists belong. */
export function parseResult(stdout: string, delegate: string): Json {
  let result: unknown;
  try {
    result = JSON.parse(stdout);
  } catch {
    result = undefined;
  }
  const fail = (why: string) =>
    new CniError(
      CNI_ERR.internal,
      `the delegate plugin "${delegate}" succeeded but ${why}`,
      stdout.trim() === '' ? 'its stdout was empty' : stdout.slice(0, 300),
    );
  if (!isObject(result)) throw fail('did not print a CNI result object');
  if (typeof result.cniVersion !== 'string' || !isSupported(result.cniVersion)) throw fail('its result names no CNI version we know');
  if (typeof result.code === 'number') throw fail('printed an error object');
  for (const key of ['ips', 'interfaces', 'routes']) {
    if (result[key] !== undefined && !Array.isArray(result[key])) throw fail(`its result's "${key}" is not a list`);
  }
  return result;
}

/** Converts a result between CNI versions, as libcni's convert functions do; only the layout differs. */
export function convertResult(result: Json, to: string): Json {
  const from = typeof result.cniVersion === 'string' && isSupported(result.cniVersion) ? result.cniVersion : to;
  let out: Json = { ...result };
  if (layout(from) === 'legacy' && layout(to) !== 'legacy') out = fromLegacy(out);
  else if (layout(from) !== 'legacy' && layout(to) === 'legacy') {
    throw new CniError(CNI_ERR.incompatibleVersion, `cannot convert a CNI ${from} result to ${to}`, 'use cniVersion 0.3.0 or later');
  }
  if (Array.isArray(out.ips)) {
    const withVersion = layout(to) === 'v04';
    out.ips = out.ips.map((ip: unknown) => {
      if (!isObject(ip)) return ip;
      const { version: _drop, ...rest } = ip;
      return withVersion ? { ...rest, version: String(rest.address ?? '').includes(':') ? '6' : '4' } : rest;
    });
  }
  out.cniVersion = to;
  return out;
}

function fromLegacy(r: Json): Json {
  const ips: Json[] = [];
  const routes: unknown[] = [];
  for (const [key, version] of [
    ['ip4', '4'],
    ['ip6', '6'],
  ] as const) {
    const cfg = r[key];
    if (!isObject(cfg)) continue;
    const ip: Json = { version, address: cfg.ip };
    if (cfg.gateway !== undefined) ip.gateway = cfg.gateway;
    ips.push(ip);
    if (Array.isArray(cfg.routes)) routes.push(...cfg.routes);
  }
  const out: Json = { cniVersion: r.cniVersion, ips };
  if (routes.length) out.routes = routes;
  if (r.dns !== undefined) out.dns = r.dns;
  return out;
}

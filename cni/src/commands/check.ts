import { CNI_ERR, CniError } from '../cni-error.js';
import { stableJson } from '../delegate.js';
import { delegateError, requirePlugin, runPlugin } from '../invoke.js';
import { isObject, type Json } from '../json.js';
import { parseBaseNetConf } from '../netconf.js';
import { convertResult } from '../result.js';
import type { RuntimeEnv } from '../runtime-env.js';
import { loadState } from '../state.js';
import { delegateVersions } from '../version-cache.js';
import { atLeast, negotiate } from '../versions.js';
import { SUCCESS, type Output } from './output.js';

/** Unlike Go flannel's no-op: the saved config must exist, and the delegate must pass its own CHECK. */
export function cmdCheck(raw: Json, rt: RuntimeEnv, env: NodeJS.ProcessEnv): Output {
  const conf = parseBaseNetConf(raw);
  if (!atLeast(conf.cniVersion, '0.4.0'))
    throw new CniError(CNI_ERR.incompatibleVersion, 'config version does not allow CHECK', 'CHECK needs cniVersion 0.4.0 or later');
  if (raw.prevResult !== undefined && !isObject(raw.prevResult)) throw new CniError(CNI_ERR.invalidConfig, '"prevResult" must be an object');
  const state = loadState(conf.dataDir, { network: conf.name, containerID: rt.containerID, ifname: rt.ifname });
  if (!state)
    throw new CniError(
      CNI_ERR.unknownContainer,
      `no saved flannel config for container ${rt.containerID} and interface ${rt.ifname}`,
      'ADD was never run for it, or DEL already removed it',
    );
  if ('unusable' in state) throw new CniError(CNI_ERR.io, `the saved flannel config cannot be used: ${state.unusable}`);
  let saved: unknown;
  try {
    saved = JSON.parse(state.text);
  } catch {
    saved = undefined;
  }
  if (!isObject(saved)) throw new CniError(CNI_ERR.io, `the saved flannel config ${state.path} is not a JSON object`, 'DEL and ADD the container again');
  const plugin = requirePlugin(saved.type, rt.pluginDirs, 'type');
  const version = negotiate(delegateVersions(plugin, conf.cniVersion, env, conf.dataDir), conf.cniVersion, plugin.type);
  if (!atLeast(version, '0.4.0'))
    throw new CniError(CNI_ERR.incompatibleVersion, `the delegate plugin "${plugin.type}" cannot CHECK`, `it speaks CNI ${version} at most`);
  saved.cniVersion = version;
  if (isObject(raw.prevResult)) saved.prevResult = convertResult(withRouteGateways(raw.prevResult), version);
  const run = runPlugin(plugin, 'CHECK', stableJson(saved), env);
  if (run.code !== 0 || run.signal) throw delegateError(plugin, 'CHECK', run);
  return SUCCESS;
}

/**
 * host-local reports the route to the cluster network without a gateway, and the bridge plugin's CHECK
 * (containernetworking-plugins 1.1) then looks for a gateway-less route and fails every healthy pod. The
 * route really goes via the bridge's gateway address, so CHECK is given that gateway.
 */
function withRouteGateways(prev: Json): Json {
  const { ips, routes } = prev as { ips?: unknown; routes?: unknown };
  if (!Array.isArray(routes) || !Array.isArray(ips)) return prev;
  const gateways = ips
    .filter(isObject)
    .map((ip) => ip.gateway)
    .filter((gw): gw is string => typeof gw === 'string');
  const gwFor = (dst: string) => gateways.find((gw) => gw.includes(':') === dst.includes(':'));
  return {
    ...prev,
    routes: routes.map((rt: unknown) => {
      if (!isObject(rt) || rt.gw || typeof rt.dst !== 'string') return rt;
      const gw = gwFor(rt.dst);
      return gw === undefined ? rt : { ...rt, gw };
    }),
  };
}

import { CNI_ERR, CniError } from './cni-error.js';
import { renderDelegate, stableJson } from './delegate.js';
import { invokeDelegate } from './invoke.js';
import type { FlannelNetConf } from './netconf.js';
import { listState, loadState, removeState, saveState } from './state.js';
import { loadSubnetEnv } from './subnet-env.js';

export const SUPPORTED_VERSIONS = ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'];

/** What a command prints, and the exit code. */
export interface Output {
  stdout: string;
  code: number;
}

type Env = NodeJS.ProcessEnv;

function need(env: Env, ...keys: string[]): void {
  for (const k of keys) {
    if (!env[k]) throw new CniError(CNI_ERR.invalidEnv, `${k} is not set`, 'the container runtime sets it; to run the plugin by hand, export it');
  }
}

export function cmdAdd(conf: FlannelNetConf, env: Env): Output {
  need(env, 'CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH');
  const delegate = renderDelegate(conf, loadSubnetEnv(conf.subnetFile));
  const text = stableJson(delegate);
  saveState(conf.dataDir, env.CNI_CONTAINERID!, text);
  const r = invokeDelegate(delegate.type as string, 'ADD', text, env);
  return { stdout: r.stdout, code: r.code };
}

/** Idempotent: no saved state, or state that does not parse, is success. The state goes only if the delegate's DEL worked. */
export function cmdDel(conf: FlannelNetConf, env: Env): Output {
  need(env, 'CNI_CONTAINERID', 'CNI_IFNAME', 'CNI_PATH');
  const text = loadState(conf.dataDir, env.CNI_CONTAINERID!);
  if (text === undefined) return { stdout: '', code: 0 };
  let saved: Record<string, unknown>;
  try {
    saved = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    process.stderr.write(`flannel: ignoring unreadable saved config for ${env.CNI_CONTAINERID}: ${(err as Error).message}\n`);
    return { stdout: '', code: 0 };
  }
  const r = invokeDelegate(String(saved.type ?? 'bridge'), 'DEL', text, env);
  if (r.code === 0) removeState(conf.dataDir, env.CNI_CONTAINERID!);
  return { stdout: r.stdout, code: r.code };
}

/** Unlike Go flannel's no-op: the saved config must exist, and the delegate must pass its own CHECK. */
export function cmdCheck(conf: FlannelNetConf, env: Env): Output {
  need(env, 'CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH');
  const text = loadState(conf.dataDir, env.CNI_CONTAINERID!);
  if (text === undefined) throw new CniError(CNI_ERR.unknownContainer, `no saved flannel config for container ${env.CNI_CONTAINERID}`, 'ADD was never run for it, or DEL already removed it');
  const saved = JSON.parse(text) as Record<string, unknown>;
  if (conf.prevResult !== undefined) saved.prevResult = withRouteGateways(conf.prevResult);
  const r = invokeDelegate(String(saved.type ?? 'bridge'), 'CHECK', stableJson(saved), env);
  return { stdout: r.stdout, code: r.code };
}

/** CNI 1.1 STATUS: 50 while flanneld has not written a usable subnet.env. */
export function cmdStatus(conf: FlannelNetConf): Output {
  try {
    loadSubnetEnv(conf.subnetFile);
  } catch (err) {
    throw new CniError(CNI_ERR.notAvailable, (err as Error).message, 'start flanneld on this node and wait until /readyz says it is ready');
  }
  return { stdout: '', code: 0 };
}

/** CNI 1.1 GC: saved configs of containers the runtime no longer lists are removed. */
export function cmdGc(conf: FlannelNetConf): Output {
  const valid = conf.raw['cni.dev/valid-attachments'];
  if (!Array.isArray(valid)) throw new CniError(CNI_ERR.invalidConfig, '"cni.dev/valid-attachments" must be a list', 'the runtime passes it with GC');
  const keep = new Set(valid.map((a) => String((a as { containerID?: unknown }).containerID)));
  for (const id of listState(conf.dataDir)) if (!keep.has(id)) removeState(conf.dataDir, id);
  return { stdout: '', code: 0 };
}

export function cmdVersion(): Output {
  return { stdout: JSON.stringify({ cniVersion: '1.1.0', supportedVersions: SUPPORTED_VERSIONS }), code: 0 };
}

/**
 * host-local reports the route to the cluster network without a gateway, and the bridge plugin's CHECK
 * (containernetworking-plugins 1.1) then looks for a gateway-less route and fails every healthy pod. The
 * route really goes via the bridge's gateway address, so CHECK is given that gateway.
 */
function withRouteGateways(prev: unknown): unknown {
  if (typeof prev !== 'object' || prev === null) return prev;
  const r = prev as { ips?: { address?: string; gateway?: string }[]; routes?: { dst?: string; gw?: string }[] };
  if (!Array.isArray(r.routes) || !Array.isArray(r.ips)) return prev;
  const gwFor = (dst: string) => r.ips!.find((ip) => ip.gateway && ip.gateway.includes(':') === dst.includes(':'))?.gateway;
  return { ...r, routes: r.routes.map((rt) => (rt.gw || !rt.dst ? rt : { ...rt, gw: gwFor(rt.dst) })) };
}

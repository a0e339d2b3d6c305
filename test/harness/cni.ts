// Runs CNI plugins as a container runtime would: CNI_* in the environment, the config on stdin, the
// plugin inside the node's namespace and the pod's namespace as CNI_NETNS.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** The bundled flannel plugin, and the Debian delegates beside it on CNI_PATH. */
export const FLANNEL_CNI_DIR = join(dirname(createRequire(import.meta.url).resolve('@flannel-ts/core/package.json')), '..', 'cni', 'dist');
export const DELEGATE_DIR = '/usr/lib/cni';
export const CNI_PATH = `${FLANNEL_CNI_DIR}:${DELEGATE_DIR}`;

export interface CniCall {
  command: string;
  containerID?: string;
  podNs?: string;
  ifname?: string;
  env?: Record<string, string | undefined>;
}

export interface CniOutput {
  code: number;
  stdout: string;
  stderr: string;
  json?: Record<string, unknown>;
}

/** Runs plugin `type` (from CNI_PATH) in `nodeNs` with `conf` on stdin. */
export function cniExec(nodeNs: string, type: string, conf: object | string, call: CniCall): CniOutput {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', CNI_COMMAND: call.command, CNI_PATH };
  if (call.containerID) env.CNI_CONTAINERID = call.containerID;
  if (call.podNs) env.CNI_NETNS = `/var/run/netns/${call.podNs}`;
  env.CNI_IFNAME = call.ifname ?? 'eth0';
  for (const [k, v] of Object.entries(call.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const bin = type === 'flannel' ? join(FLANNEL_CNI_DIR, 'flannel') : join(DELEGATE_DIR, type);
  const r = spawnSync('ip', ['netns', 'exec', nodeNs, bin], { input: typeof conf === 'string' ? conf : JSON.stringify(conf), env, encoding: 'utf8' });
  const out: CniOutput = { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
  try {
    out.json = JSON.parse(r.stdout) as Record<string, unknown>;
  } catch {
    // empty output (DEL) or not JSON
  }
  return out;
}

/**
 * A conflist ADD, as the kubelet's runtime does it: each plugin in order, each getting the previous
 * plugin's result as prevResult. Returns the last result.
 */
export function cniAddList(nodeNs: string, conflist: { cniVersion: string; name: string; plugins: Record<string, unknown>[] }, call: Omit<CniCall, 'command'>): CniOutput {
  let prev: unknown;
  let last: CniOutput | undefined;
  for (const plugin of conflist.plugins) {
    const conf = { cniVersion: conflist.cniVersion, name: conflist.name, ...plugin, ...(prev ? { prevResult: prev } : {}) };
    last = cniExec(nodeNs, String(plugin.type), conf, { ...call, command: 'ADD' });
    if (last.code !== 0) return last;
    prev = last.json;
  }
  return last!;
}

// Runs CNI plugins as a container runtime would: CNI_* in the environment, the config on stdin, the
// plugin inside the node's namespace and the pod's namespace as CNI_NETNS.
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** The flannel plugin (the single executable `npm run build` makes), and the Debian delegates beside it on CNI_PATH. */
export const FLANNEL_CNI_DIR = join(dirname(createRequire(import.meta.url).resolve('@flannel-ts/core/package.json')), '..', 'cni', 'dist');
export const DELEGATE_DIR = '/usr/lib/cni';
export const CNI_PATH = `${FLANNEL_CNI_DIR}:${DELEGATE_DIR}`;
/**
 * PATH for plugins: what bridge and portmap need (ip, iptables), and no `node` (it lives in /usr/bin), as
 * on most Kubernetes nodes: the flannel plugin must run without it.
 */
export const PLUGIN_PATH = '/usr/sbin:/sbin';

export interface CniCall {
  command: string;
  containerID?: string;
  podNs?: string;
  ifname?: string;
  /** Extra variables; `undefined` removes one (e.g. `{ CNI_NETNS: undefined }`). */
  env?: Record<string, string | undefined>;
}

export interface CniOutput {
  code: number;
  stdout: string;
  stderr: string;
  json?: Record<string, unknown>;
}

function invocation(nodeNs: string, type: string, call: CniCall): { argv: string[]; env: Record<string, string> } {
  const env: Record<string, string> = { PATH: PLUGIN_PATH, CNI_COMMAND: call.command, CNI_PATH };
  if (call.containerID) env.CNI_CONTAINERID = call.containerID;
  if (call.podNs) env.CNI_NETNS = `/var/run/netns/${call.podNs}`;
  env.CNI_IFNAME = call.ifname ?? 'eth0';
  for (const [k, v] of Object.entries(call.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const bin = type === 'flannel' ? join(FLANNEL_CNI_DIR, 'flannel') : join(DELEGATE_DIR, type);
  return { argv: ['netns', 'exec', nodeNs, bin], env };
}

function output(code: number, stdout: string, stderr: string): CniOutput {
  const out: CniOutput = { code, stdout, stderr };
  try {
    out.json = JSON.parse(stdout) as Record<string, unknown>;
  } catch {
    // empty output (DEL) or not JSON
  }
  return out;
}

const stdinOf = (conf: object | string) => (typeof conf === 'string' ? conf : JSON.stringify(conf));

/** Runs plugin `type` (flannel from FLANNEL_CNI_DIR, others from DELEGATE_DIR) in `nodeNs` with `conf` on stdin. */
export function cniExec(nodeNs: string, type: string, conf: object | string, call: CniCall): CniOutput {
  const { argv, env } = invocation(nodeNs, type, call);
  const r = spawnSync('ip', argv, { input: stdinOf(conf), env, encoding: 'utf8' });
  return output(r.status ?? 1, r.stdout, r.stderr);
}

/** cniExec without blocking, so that many calls can run at once, as a busy kubelet makes them. */
export function cniExecAsync(nodeNs: string, type: string, conf: object | string, call: CniCall): Promise<CniOutput> {
  const { argv, env } = invocation(nodeNs, type, call);
  return new Promise((resolve, reject) => {
    const child = spawn('ip', argv, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve(output(code ?? 1, stdout, stderr)));
    child.stdin.end(stdinOf(conf));
  });
}

/**
 * A conflist ADD, as the kubelet's runtime does it: each plugin in order, each getting the previous
 * plugin's result as prevResult. Returns the last result.
 */
export function cniAddList(
  nodeNs: string,
  conflist: { cniVersion: string; name: string; plugins: Record<string, unknown>[] },
  call: Omit<CniCall, 'command'>,
): CniOutput {
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

import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { CNI_ERR, CniError } from './cni-error.js';

export interface DelegateResult {
  code: number;
  stdout: string;
}

/** Runs the delegate plugin `type` from CNI_PATH with `command`, the container's env, and `conf` on stdin. */
export function invokeDelegate(type: string, command: string, conf: string, env: NodeJS.ProcessEnv): DelegateResult {
  const dirs = (env.CNI_PATH ?? '').split(':').filter(Boolean);
  const bin = dirs.map((d) => join(d, type)).find((p) => {
    try {
      accessSync(p, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
  if (!bin) throw new CniError(CNI_ERR.invalidConfig, `failed to find plugin "${type}" in path [${dirs.join(' ')}]`, 'install it (Debian: containernetworking-plugins) or fix CNI_PATH');
  const r = spawnSync(bin, [], { input: conf, env: { ...env, CNI_COMMAND: command }, encoding: 'utf8', maxBuffer: 16 << 20 });
  if (r.error) throw new CniError(CNI_ERR.io, `cannot run ${bin}: ${r.error.message}`);
  if (r.stderr) process.stderr.write(r.stderr);
  return { code: r.status ?? 1, stdout: r.stdout };
}

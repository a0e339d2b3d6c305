import { spawnSync } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { join } from 'node:path';
import { MAX_INPUT_BYTES } from './bounded-read.js';
import { CNI_ERR, CniError } from './cni-error.js';
import { isObject } from './json.js';
import { validatePluginName } from './netconf.js';
import { parseVersionReply } from './versions.js';

/** How a delegate run ended: exit code (or the signal that killed it) and what it printed. */
export interface PluginRun {
  code: number;
  signal: string | null;
  stdout: string;
}

/** A delegate plugin found on CNI_PATH: its name (for messages), the file to run, and that file's identity. */
export interface Plugin {
  type: string;
  path: string;
  /** Device, inode, size, mtime and ctime: any replacement or rewrite of the file changes it. */
  identity: string;
}

/**
 * Looks `type` up the way libcni does since CVE-2021-20206: a plain file name, in CNI_PATH's directories
 * only, and it must be a regular file we can execute (a directory or a FIFO of that name is skipped).
 */
export function findPlugin(type: unknown, dirs: string[], field = 'delegate.type'): Plugin | undefined {
  const name = validatePluginName(type, field);
  for (const dir of dirs) {
    const path = join(dir, name);
    const st = statSync(path, { throwIfNoEntry: false, bigint: true });
    if (!st?.isFile() || (st.mode & 0o111n) === 0n) continue;
    try {
      accessSync(path, constants.X_OK);
      return { type: name, path, identity: [st.dev, st.ino, st.size, st.mtimeNs, st.ctimeNs].join(':') };
    } catch {
      // not executable for us: keep looking, as exec.LookPath does
    }
  }
  return undefined;
}

export function requirePlugin(type: unknown, dirs: string[], field = 'delegate.type'): Plugin {
  const plugin = findPlugin(type, dirs, field);
  if (!plugin) {
    throw new CniError(
      CNI_ERR.invalidConfig,
      `failed to find plugin "${String(type)}" in path [${dirs.join(' ')}]`,
      'install it (Debian: containernetworking-plugins) or fix CNI_PATH',
    );
  }
  return plugin;
}

/** Runs a plugin with `command`, `env` and `stdin`; its stderr goes straight to ours, where runtimes log it. */
export function runPlugin(plugin: Plugin, command: string, stdin: string, env: NodeJS.ProcessEnv): PluginRun {
  const r = spawnSync(plugin.path, [], {
    input: stdin,
    env: { ...env, CNI_COMMAND: command },
    encoding: 'utf8',
    maxBuffer: MAX_INPUT_BYTES,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  // EPIPE only means the plugin exited without reading all of stdin (Go's skel never reads it for
  // VERSION); its exit status and output are still what count.
  if (r.error && (r.error as NodeJS.ErrnoException).code !== 'EPIPE') {
    const e = r.error as NodeJS.ErrnoException;
    const what = e.code === 'ENOBUFS' ? `printed more than ${MAX_INPUT_BYTES} bytes` : `could not be run: ${e.message}`;
    throw new CniError(CNI_ERR.internal, `the delegate plugin "${plugin.type}" ${what} (${command})`, plugin.path);
  }
  return { code: r.status ?? 1, signal: r.signal, stdout: r.stdout };
}

/** A failed run as the error to answer with: the delegate's own CNI error if it printed one, else what happened. */
export function delegateError(plugin: Plugin, command: string, run: PluginRun): CniError {
  let reply: unknown;
  try {
    reply = JSON.parse(run.stdout);
  } catch {
    reply = undefined;
  }
  if (isObject(reply) && typeof reply.code === 'number' && Number.isInteger(reply.code) && reply.code > 0 && typeof reply.msg === 'string') {
    return new CniError(reply.code, reply.msg, typeof reply.details === 'string' ? reply.details : '');
  }
  const how = run.signal ? `was killed by ${run.signal}` : `exited with status ${run.code}`;
  const printed = run.stdout.trim() === '' ? 'and printed nothing on stdout' : 'and printed no CNI error';
  return new CniError(CNI_ERR.internal, `the delegate plugin "${plugin.type}" ${how} ${printed} (${command})`, run.stdout.slice(0, 300));
}

/** The CNI versions a delegate speaks, from its VERSION command. */
export function pluginVersions(plugin: Plugin, wanted: string, env: NodeJS.ProcessEnv): string[] {
  const run = runPlugin(plugin, 'VERSION', JSON.stringify({ cniVersion: wanted }), env);
  if (run.code !== 0 || run.signal) throw delegateError(plugin, 'VERSION', run);
  return parseVersionReply(run.stdout, plugin.type);
}

import { isAbsolute } from 'node:path';
import { CNI_ERR, CniError } from './cni-error.js';

/** The spec's rule for container IDs and network names (libcni's cniReg). */
export const CNI_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
export const MAX_IFNAME_BYTES = 15;

export type Command = 'ADD' | 'DEL' | 'CHECK' | 'STATUS' | 'GC' | 'VERSION';
export const COMMANDS: readonly Command[] = ['ADD', 'DEL', 'CHECK', 'STATUS', 'GC', 'VERSION'];

/** What the runtime told us through CNI_* variables, checked. */
export interface RuntimeEnv {
  command: Command;
  containerID: string;
  ifname: string;
  netns: string;
  /** CNI_PATH's absolute directories, in order. */
  pluginDirs: string[];
}

const REQUIRED: Record<Command, string[]> = {
  ADD: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
  CHECK: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
  DEL: ['CNI_CONTAINERID', 'CNI_IFNAME', 'CNI_PATH'],
  STATUS: ['CNI_PATH'],
  GC: ['CNI_PATH'],
  VERSION: [],
};

const invalidEnv = (msg: string, details = '') => new CniError(CNI_ERR.invalidEnv, msg, details);

export function parseCommand(env: NodeJS.ProcessEnv): Command {
  const command = env.CNI_COMMAND;
  if (!command) throw invalidEnv('CNI_COMMAND is not set', `set it to one of ${COMMANDS.join(', ')}`);
  if (!(COMMANDS as readonly string[]).includes(command))
    throw invalidEnv(`unknown CNI_COMMAND ${JSON.stringify(command)}`, `use one of ${COMMANDS.join(', ')}`);
  return command as Command;
}

/** Checks the variables `command` needs before anything touches the disk, with the spec's codes (4). */
export function parseRuntimeEnv(command: Command, env: NodeJS.ProcessEnv): RuntimeEnv {
  const missing = REQUIRED[command].filter((k) => !env[k]);
  if (missing.length)
    throw invalidEnv(
      `required environment variables [${missing.join(',')}] are missing`,
      'the container runtime sets them; to run the plugin by hand, export them',
    );
  const out: RuntimeEnv = { command, containerID: env.CNI_CONTAINERID ?? '', ifname: env.CNI_IFNAME ?? '', netns: env.CNI_NETNS ?? '', pluginDirs: [] };
  if (REQUIRED[command].includes('CNI_CONTAINERID')) validateContainerID(out.containerID);
  if (REQUIRED[command].includes('CNI_IFNAME')) validateIfname(out.ifname);
  if (REQUIRED[command].includes('CNI_PATH')) {
    // A relative entry would depend on the runtime's working directory, which nobody defines.
    out.pluginDirs = (env.CNI_PATH ?? '').split(':').filter((d) => d !== '' && isAbsolute(d));
    if (!out.pluginDirs.length) throw invalidEnv(`CNI_PATH ${JSON.stringify(env.CNI_PATH)} names no absolute directory`, 'e.g. CNI_PATH=/opt/cni/bin');
  }
  return out;
}

export function validateContainerID(id: string): void {
  if (!CNI_NAME.test(id)) throw invalidEnv('invalid characters in CNI_CONTAINERID', `${JSON.stringify(id)} must match ${CNI_NAME.source}`);
}

/** The kernel's rules for interface names, as libcni checks them. */
export function validateIfname(name: string): void {
  if (Buffer.byteLength(name) > MAX_IFNAME_BYTES) throw invalidEnv('CNI_IFNAME is too long', `${JSON.stringify(name)} has more than ${MAX_IFNAME_BYTES} bytes`);
  if (name === '.' || name === '..') throw invalidEnv('CNI_IFNAME is . or ..');
  if (/[/:\s\u0085]/u.test(name)) throw invalidEnv('CNI_IFNAME contains / or : or whitespace', JSON.stringify(name));
}

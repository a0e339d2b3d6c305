// The flannel CNI plugin (`flannel`): CNI_COMMAND in the environment, the network config on stdin, the
// result or a CNI error JSON on stdout. Kept to Node built-ins and IP math: it runs once per pod.
import { readFdBounded, TooLargeError } from './bounded-read.js';
import { CNI_ERR, CniError } from './cni-error.js';
import { cmdAdd } from './commands/add.js';
import { cmdCheck } from './commands/check.js';
import { cmdDel } from './commands/del.js';
import { cmdGc } from './commands/gc.js';
import type { Output } from './commands/output.js';
import { cmdStatus } from './commands/status.js';
import { cmdVersion } from './commands/version.js';
import { decodeNetConf } from './netconf.js';
import { parseCommand, parseRuntimeEnv } from './runtime-env.js';
import { isSupported, LATEST_VERSION } from './versions.js';

/** Runs one CNI command; errors come back as CNI error JSON in the runtime's own version when it gave one. */
export function runCommand(env: NodeJS.ProcessEnv, readStdin: () => string): Output {
  let answerVersion: string = LATEST_VERSION;
  try {
    const command = parseCommand(env);
    if (command === 'VERSION') return cmdVersion();
    const rt = parseRuntimeEnv(command, env);
    const raw = decodeNetConf(readConfig(readStdin));
    if (typeof raw.cniVersion === 'string' && isSupported(raw.cniVersion)) answerVersion = raw.cniVersion;
    switch (command) {
      case 'ADD':
        return cmdAdd(raw, rt, env);
      case 'DEL':
        return cmdDel(raw, rt, env);
      case 'CHECK':
        return cmdCheck(raw, rt, env);
      case 'STATUS':
        return cmdStatus(raw, rt, env);
      case 'GC':
        return cmdGc(raw, rt, env);
    }
  } catch (err) {
    const e = err instanceof CniError ? err : new CniError(CNI_ERR.internal, `flannel: ${(err as Error).message}`);
    return { stdout: JSON.stringify(e.toJSON(answerVersion)), code: 1 };
  }
}

function readConfig(readStdin: () => string): string {
  try {
    return readStdin();
  } catch (err) {
    if (err instanceof TooLargeError) throw new CniError(CNI_ERR.decode, `the network configuration on stdin is too large (${err.message})`);
    throw new CniError(CNI_ERR.io, `error reading from stdin: ${(err as Error).message}`);
  }
}

/** The process entry point, shared by the script build and the single executable. */
export function main(): void {
  const out = runCommand(process.env, () => readFdBounded(0));
  if (out.stdout) process.stdout.write(out.stdout.endsWith('\n') ? out.stdout : `${out.stdout}\n`);
  process.exitCode = out.code;
}

// The flannel CNI plugin (`flannel`): CNI_COMMAND in the environment, the network config on stdin, the
// result or a CNI error JSON on stdout. Kept to Node built-ins and IP math: it runs once per pod.
import { readFileSync } from 'node:fs';
import { CNI_ERR, CniError } from './cni-error.js';
import { cmdAdd, cmdCheck, cmdDel, cmdGc, cmdStatus, cmdVersion, type Output } from './commands.js';
import { parseNetConf } from './netconf.js';

function run(env: NodeJS.ProcessEnv): Output {
  const command = env.CNI_COMMAND;
  if (command === 'VERSION') return cmdVersion();
  if (!command) throw new CniError(CNI_ERR.invalidEnv, 'CNI_COMMAND is not set', 'set it to ADD, DEL, CHECK, STATUS, GC or VERSION');
  const conf = parseNetConf(readFileSync(0, 'utf8'));
  switch (command) {
    case 'ADD':
      return cmdAdd(conf, env);
    case 'DEL':
      return cmdDel(conf, env);
    case 'CHECK':
      return cmdCheck(conf, env);
    case 'STATUS':
      return cmdStatus(conf);
    case 'GC':
      return cmdGc(conf);
    default:
      throw new CniError(CNI_ERR.invalidEnv, `unknown CNI_COMMAND ${JSON.stringify(command)}`, 'use ADD, DEL, CHECK, STATUS, GC or VERSION');
  }
}

let out: Output;
try {
  out = run(process.env);
} catch (err) {
  const e = err instanceof CniError ? err : new CniError(100, `flannel: ${(err as Error).message}`);
  out = { stdout: JSON.stringify(e.toJSON('1.1.0')), code: 1 };
}
if (out.stdout) process.stdout.write(out.stdout.endsWith('\n') ? out.stdout : `${out.stdout}\n`);
process.exitCode = out.code;

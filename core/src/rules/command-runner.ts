import { execFile } from 'node:child_process';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program (iptables-restore, nft); injected so that rule logic can be tested without root. */
export interface CommandRunner {
  run(cmd: string, args: string[], input?: string): Promise<CommandResult>;
}
export const CommandRunner = Symbol.for('flannel-ts.CommandRunner');

export const execRunner: CommandRunner = {
  run(cmd, args, input) {
    return new Promise((resolve) => {
      const child = execFile(cmd, args, { encoding: 'utf8', maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 127) : 0;
        resolve({ code, stdout, stderr: err && code === 127 ? `${stderr}${err.message}` : stderr });
      });
      // A program that never reads its input (iptables --version) closes the pipe first: not an error.
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(input ?? '');
    });
  },
};

// Child processes that tests start: each is stopped by PID, and stopAll() in afterAll catches stragglers.
import { spawn, type ChildProcess } from 'node:child_process';

const running = new Set<ChildProcess>();

export interface Started {
  child: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
}

/** Starts `cmd`, inside `netns` when given (`ip netns exec` execs, so the PID is the command's own). */
export function startProcess(cmd: string, args: string[], opts: { netns?: string; env?: NodeJS.ProcessEnv } = {}): Started {
  const [file, argv] = opts.netns ? ['ip', ['netns', 'exec', opts.netns, cmd, ...args]] : [cmd, args];
  const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env });
  running.add(child);
  child.on('exit', () => running.delete(child));
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return { child, output: () => out };
}

/** Resolves when `predicate(output)` holds; rejects with the output's tail on exit or timeout. */
export function waitForOutput(p: Started, predicate: (out: string) => boolean, timeoutMs: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (!predicate(p.output())) return;
      cleanup();
      resolve();
    };
    const onExit = (code: number | null): void => {
      cleanup();
      reject(new Error(`${what}: exited (${code}) first:\n${p.output().slice(-2000)}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${what}: not seen within ${timeoutMs} ms:\n${p.output().slice(-2000)}`));
    }, timeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      p.child.stdout!.off('data', check);
      p.child.stderr!.off('data', check);
      p.child.off('exit', onExit);
    };
    p.child.stdout!.on('data', check);
    p.child.stderr!.on('data', check);
    p.child.on('exit', onExit);
    check();
  });
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code (or signal name). */
export function stopProcess(child: ChildProcess, graceMs = 3000, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | string> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode ?? child.signalCode!);
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', (code, sig) => {
      clearTimeout(timer);
      resolve(code ?? sig ?? -1);
    });
    child.kill(signal);
  });
}

export async function stopAllProcesses(): Promise<void> {
  await Promise.all([...running].map((c) => stopProcess(c, 1000)));
}

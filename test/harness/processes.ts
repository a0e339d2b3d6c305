// Child processes that tests start: each is stopped by PID, and stopAll() in afterAll catches stragglers.
import { spawn, type ChildProcess } from 'node:child_process';

const running = new Set<ChildProcess>();

export interface Started {
  child: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** What it wrote to stdout alone. */
  stdout(): string;
  /** Settles once the process has exited and all its output is read: the exit code, or the signal's name. */
  closed: Promise<number | string>;
}

/** Starts `cmd`, inside `netns` when given (`ip netns exec` execs, so the PID is the command's own). */
export function startProcess(cmd: string, args: string[], opts: { netns?: string; env?: NodeJS.ProcessEnv } = {}): Started {
  const [file, argv] = opts.netns ? ['ip', ['netns', 'exec', opts.netns, cmd, ...args]] : [cmd, args];
  const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env });
  running.add(child);
  child.on('exit', () => running.delete(child));
  let out = '';
  let stdout = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    stdout += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  // 'close', not 'exit': by then the pipes are drained, so output() holds the last words too.
  const closed = new Promise<number | string>((resolve) => child.once('close', (code, signal) => resolve(code ?? signal ?? -1)));
  return { child, output: () => out, stdout: () => stdout, closed };
}

/** Resolves when `predicate(output)` holds; rejects with the output's tail on exit or timeout. */
export function waitForOutput(p: Started, predicate: (out: string) => boolean, timeoutMs: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (err?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      p.child.stdout!.off('data', check);
      p.child.stderr!.off('data', check);
      if (err) reject(err);
      else resolve();
    };
    const check = (): void => {
      if (predicate(p.output())) settle();
    };
    const timer = setTimeout(() => settle(new Error(`${what}: not seen within ${timeoutMs} ms:\n${p.output().slice(-2000)}`)), timeoutMs);
    p.child.stdout!.on('data', check);
    p.child.stderr!.on('data', check);
    // Checked once more at close: a process may say it and exit at once.
    void p.closed.then((code) => (predicate(p.output()) ? settle() : settle(new Error(`${what}: exited (${code}) first:\n${p.output().slice(-2000)}`))));
    check();
  });
}

/** Resolves with the exit code (or signal name) once `p` has exited; rejects with its output's tail after `timeoutMs`. */
export function waitForExit(p: Started, timeoutMs: number, what: string): Promise<number | string> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still running after ${timeoutMs} ms:\n${p.output().slice(-2000)}`)), timeoutMs);
  });
  return Promise.race([p.closed, timedOut]).finally(() => clearTimeout(timer));
}

/**
 * SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code (or signal name). The grace is generous
 * so that a slow but clean exit on a loaded machine still reports its own code.
 */
export function stopProcess(child: ChildProcess, graceMs = 15_000, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | string> {
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

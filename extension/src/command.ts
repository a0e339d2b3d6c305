// Running a configured command as current Go flannel does: no shell. The text is expanded ($NAME and
// ${NAME} from the environment plus the backend's variables), split on whitespace into argv, and
// executed; stdin gets the given text and a newline; stdout and stderr are collected together.
import { spawn } from 'node:child_process';

/** Collected output beyond this is dropped (and said so): a command's output is for BackendData or a log line. */
export const MAX_OUTPUT = 64 * 1024;

/** `$NAME` and `${NAME}` (NAME: letters, digits, underscores, not starting with a digit); an unset variable is empty. */
export function expandVars(text: string, lookup: (name: string) => string | undefined): string {
  return text.replace(
    /\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g,
    (_m, braced: string | undefined, bare: string | undefined) => lookup((braced ?? bare)!) ?? '',
  );
}

/**
 * The argv a command text becomes: expanded first, then split on whitespace, as Go's os.Expand and
 * strings.Fields do. Quotes, pipes, redirections and `;` mean nothing: there is no shell. A variable whose
 * value holds whitespace becomes several arguments, as in Go.
 */
export function commandArgv(text: string, vars: Readonly<Record<string, string>>, env: NodeJS.ProcessEnv = process.env): string[] {
  return expandVars(text, (name) => (name in vars ? vars[name] : env[name]))
    .split(/\s+/)
    .filter((w) => w !== '');
}

export interface CommandResult {
  argv: string[];
  /** The exit code; null when it was killed or never started. */
  code: number | null;
  /** stdout and stderr as they came, trimmed. */
  output: string;
  /** Why it did not succeed ("exited 1", "timed out after 30 s and was killed", "cannot run it: ENOENT"); absent on success. */
  failure?: string;
}

export interface RunOptions {
  /** Variables added to the environment (and used for expansion). */
  vars: Readonly<Record<string, string>>;
  /** Written to stdin, followed by a newline. */
  stdin: string;
  timeoutMs: number;
  /** Aborting kills the command. */
  signal?: AbortSignal;
}

/**
 * Runs `argv` in its own process group and waits for it and its output. On timeout or abort the whole
 * group is killed (SIGKILL), so that a script's children go too. Never rejects.
 */
export function runCommand(argv: string[], o: RunOptions): Promise<CommandResult> {
  if (argv.length === 0) return Promise.resolve({ argv, code: null, output: '', failure: 'the command is empty' });
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { env: { ...process.env, ...o.vars }, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    let output = '';
    let dropped = 0;
    let failure: string | undefined;
    const collect = (d: Buffer) => {
      const room = MAX_OUTPUT - output.length;
      if (room > 0) output += d.toString('utf8', 0, Math.min(d.length, room));
      if (d.length > room) dropped += d.length - Math.max(room, 0);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.stdin.on('error', () => {}); // a command that does not read its stdin may exit before we wrote it
    child.stdin.end(`${o.stdin}\n`);

    const killGroup = (why: string) => {
      failure ??= why;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => killGroup(`timed out after ${o.timeoutMs / 1000} s and was killed`), o.timeoutMs);
    const onAbort = () => killGroup('stopped: flanneld is shutting down');
    o.signal?.addEventListener('abort', onAbort, { once: true });
    if (o.signal?.aborted) onAbort();

    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    child.on('exit', (code, signal) => (exit = { code, signal }));
    child.on('error', (err: NodeJS.ErrnoException) => {
      failure ??= `cannot run ${argv[0]}: ${err.code ?? err.message}`;
    });
    // 'close' comes after 'exit' and the end of both pipes, or after 'error' when it never started.
    child.on('close', () => {
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      const { code: c, signal: s } = exit ?? { code: null, signal: null };
      if (!failure && c !== 0) failure = c === null ? `killed by ${s}` : `exited ${c}`;
      const text = output.trim() + (dropped > 0 ? ` … (${dropped} more bytes not kept)` : '');
      resolve({ argv, code: c, output: text, ...(failure ? { failure } : {}) });
    });
  });
}

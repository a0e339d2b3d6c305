// Commands as the extension backend runs them: expanded, split, executed without a shell. These start
// real (harmless) processes: echo, cat, env, sh, node; no root needed.
import { commandArgv, expandVars, MAX_OUTPUT, runCommand } from './command.js';

const run = (argv: string[], o: Partial<Parameters<typeof runCommand>[1]> = {}) => runCommand(argv, { vars: {}, stdin: '', timeoutMs: 60_000, ...o });

/** Polls until `check` holds or `ms` pass; returns whether it held. */
async function eventually(check: () => boolean, ms = 30_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  return check();
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('expanding and splitting a command, as Go flannel does without a shell', () => {
  it('expands $NAME and ${NAME}; an unset variable is empty; a lone $ stays', () => {
    const vars: Record<string, string> = { A: '1', B_2: 'two' };
    expect(expandVars('$A ${B_2}x $Ax ${UNSET}. $ $1 ${', (n) => vars[n])).toBe('1 twox  . $ $1 ${');
  });

  it('splits on any run of whitespace after expanding, our variables before the environment', () => {
    const env = { SUBNET: 'from-env', HOME: '/root' };
    expect(commandArgv('  ip route   replace $SUBNET\tvia ${PUBLIC_IP} $HOME ', { SUBNET: '10.244.2.0/24', PUBLIC_IP: '192.0.2.2' }, env)).toEqual([
      'ip',
      'route',
      'replace',
      '10.244.2.0/24',
      'via',
      '192.0.2.2',
      '/root',
    ]);
  });

  it('gives shell syntax no meaning: quotes and ; are plain characters, and a value with spaces is several words', () => {
    expect(commandArgv(`echo "a b"; ls $V`, { V: 'x  y' }, {})).toEqual(['echo', '"a', 'b";', 'ls', 'x', 'y']);
    expect(commandArgv('   ', {}, {})).toEqual([]);
  });
});

describe('running a command', () => {
  it('writes stdin with a newline, and returns stdout and stderr together, trimmed', async () => {
    const r = await run(['cat'], { stdin: 'backend data' });
    expect(r).toEqual({ argv: ['cat'], code: 0, output: 'backend data' });
    const both = await run(['sh', '-c', 'echo out; echo err >&2; echo out2'], {});
    expect(both.output.split('\n').sort()).toEqual(['err', 'out', 'out2']);
  });

  it('adds its variables to the environment', async () => {
    const r = await run(['env'], { vars: { SUBNET: '10.244.2.0/24', PUBLIC_IP: '192.0.2.2' } });
    expect(r.output.split('\n')).toEqual(expect.arrayContaining(['SUBNET=10.244.2.0/24', 'PUBLIC_IP=192.0.2.2', `PATH=${process.env.PATH}`]));
  });

  it('reports a non-zero exit with the output, a missing program, and an empty command', async () => {
    expect(await run(['sh', '-c', 'echo no route to host >&2; exit 2'])).toEqual({
      argv: ['sh', '-c', expect.any(String)],
      code: 2,
      output: 'no route to host',
      failure: 'exited 2',
    });
    expect(await run(['/nonexistent/flannel-cmd'])).toMatchObject({ code: null, failure: 'cannot run /nonexistent/flannel-cmd: ENOENT' });
    expect(await run([])).toMatchObject({ failure: 'the command is empty' });
  });

  it('kills the command and its children when the timeout passes', async () => {
    const r = await run(['sh', '-c', 'sleep 600 & echo $!; sleep 600'], { timeoutMs: 500 });
    expect(r.failure).toBe('timed out after 0.5 s and was killed');
    const child = Number(r.output);
    expect(child).toBeGreaterThan(0);
    expect(await eventually(() => !alive(child))).toBe(true);
  });

  it('kills the command when aborted', async () => {
    const stop = new AbortController();
    const running = run(['sleep', '600'], { signal: stop.signal });
    stop.abort();
    expect((await running).failure).toBe('stopped: flanneld is shutting down');
  });

  it('keeps at most MAX_OUTPUT of the output and says how much it dropped', async () => {
    const r = await run([process.execPath, '-e', `process.stdout.write('x'.repeat(${MAX_OUTPUT + 1000}))`]);
    expect(r.code).toBe(0);
    expect(r.output).toBe(`${'x'.repeat(MAX_OUTPUT)} … (1000 more bytes not kept)`);
  });
});

// Network namespaces for tests, in the style of containernetworking's testutils: each test run gets its own
// prefix, every namespace it makes carries it, and cleanup removes them by name even after a failure.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/** This process's prefix: `fts` + 4 random hex digits + `-`. */
export const RUN_PREFIX = `fts${randomBytes(2).toString('hex')}-`;

const created = new Set<string>();

export function sh(cmd: string, args: string[], opts: { input?: string } = {}): string {
  return execFileSync(cmd, args, { encoding: 'utf8', input: opts.input, stdio: ['pipe', 'pipe', 'pipe'] });
}

/** `ip -n NS -j ARGS…` parsed as JSON. */
export function ipJson<T = unknown>(ns: string, ...args: string[]): T {
  const out = sh('ip', ['-n', ns, '-j', ...args]).trim();
  return (out === '' ? [] : JSON.parse(out)) as T;
}

export function ipIn(ns: string, ...args: string[]): string {
  return sh('ip', ['-n', ns, ...args]);
}

/** Runs `cmd` inside the namespace (`ip netns exec NS CMD…`) and returns its stdout. */
export function execIn(ns: string, cmd: string, ...args: string[]): string {
  return sh('ip', ['netns', 'exec', ns, cmd, ...args]);
}

/** Creates a namespace named `<run prefix><name>` with `lo` up. */
export function createNetns(name: string): string {
  const ns = `${RUN_PREFIX}${name}`;
  sh('ip', ['netns', 'add', ns]);
  created.add(ns);
  sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  return ns;
}

export function deleteNetns(ns: string): void {
  try {
    sh('ip', ['netns', 'del', ns]);
  } catch {
    // already gone
  }
  created.delete(ns);
}

/** Removes every namespace this process created. Call from afterAll. */
export function cleanupNetns(): void {
  for (const ns of [...created]) deleteNetns(ns);
}

export const isRoot = () => process.getuid?.() === 0;

/**
 * Gives `ns` an underlay interface `eth0` (a veth whose peer stays in `ns`), up, with `cidr` if given.
 * Unlike a dummy device (missing on this kernel), a veth carries traffic.
 */
export function addUnderlay(ns: string, cidr?: string): void {
  ipIn(ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0-peer');
  if (cidr) ipIn(ns, 'addr', 'add', cidr, 'dev', 'eth0');
  ipIn(ns, 'link', 'set', 'eth0', 'up');
  ipIn(ns, 'link', 'set', 'eth0-peer', 'up');
}

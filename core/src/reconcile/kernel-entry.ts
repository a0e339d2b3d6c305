import type { NetlinkRequest } from '../netlink/socket/netlink-socket.js';

/**
 * One kernel object a backend owns: a route, a neighbour, an FDB entry, a nexthop. The engine compares
 * entries by `key` (which object) and `value` (what it must hold), and never looks inside.
 */
export interface KernelEntry {
  /** Identity: the kernel holds at most one object per key ("route 254 10.244.1.0/24"). */
  readonly key: string;
  /** What must match for the kernel's object to be right; compared as text. */
  readonly value: string;
  /**
   * Order among kinds: entries are written lowest rank first and deleted highest first, so that a route
   * is never written before the neighbour and nexthop it relies on, nor left behind them.
   */
  readonly rank: number;
  /** Writes it (create or replace). */
  put(): NetlinkRequest;
  del(): NetlinkRequest;
}

export interface DiffOptions {
  /** Delete what `have` holds and `want` does not. Off until the engine knows every lease. */
  prune: boolean;
}

/**
 * The requests that turn `have` into `want`: entries missing or holding another value are put, and
 * (with `prune`) entries no longer wanted are deleted. Deletions come first, highest rank first; then
 * puts, lowest rank first.
 */
export function diffEntries(want: Iterable<KernelEntry>, have: Iterable<KernelEntry>, o: DiffOptions): NetlinkRequest[] {
  const { dels, puts } = planDiff(want, have, o);
  return [...dels.map((e) => e.del()), ...puts.map((e) => e.put())];
}

/** diffEntries' answer as entries, in the order their requests go out: deletions, then puts. */
export function planDiff(want: Iterable<KernelEntry>, have: Iterable<KernelEntry>, o: DiffOptions): { dels: KernelEntry[]; puts: KernelEntry[] } {
  const wanted = new Map<string, KernelEntry>();
  for (const e of want) wanted.set(e.key, e);
  const dels: KernelEntry[] = [];
  const puts: KernelEntry[] = [];
  const seen = new Set<string>();
  for (const h of have) {
    const w = wanted.get(h.key);
    if (!w || seen.has(h.key)) {
      // A second object under one key (a duplicate) is as stale as an unwanted one.
      if (o.prune) dels.push(h);
      continue;
    }
    seen.add(h.key);
    if (w.value !== h.value) puts.push(w);
  }
  for (const [key, w] of wanted) if (!seen.has(key)) puts.push(w);
  dels.sort((a, b) => b.rank - a.rank);
  puts.sort((a, b) => a.rank - b.rank);
  return { dels, puts };
}

/** An entry's kind, the first word of its key: route, neigh, fdb, nexthop. */
export function entryKind(e: KernelEntry): string {
  const space = e.key.indexOf(' ');
  return space < 0 ? e.key : e.key.slice(0, space);
}

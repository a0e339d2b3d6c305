import { setImmediate as yieldToLoop } from 'node:timers/promises';
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
  /**
   * Writes it (create or replace). put() and del() only describe a request, from what the entry holds:
   * the engine calls them a chunk at a time while it sends a pass (after turns of the event loop), and
   * again to name a request that failed, so they must be pure and cheap, and return a new request each time.
   */
  put(): NetlinkRequest;
  del(): NetlinkRequest;
}

export interface DiffOptions {
  /** Delete what `have` holds and `want` does not. Off until the engine knows every lease. */
  prune: boolean;
  /** Asked at each turn of the event loop: true abandons the plan, and planDiffSliced returns undefined. */
  abandonWhen?: () => boolean;
}

export interface DiffPlan {
  readonly dels: readonly KernelEntry[];
  readonly puts: readonly KernelEntry[];
}

/**
 * An index of entries by key (the last of a repeated key wins), for a diff against what a batch of
 * lease events replaced.
 */
export function indexByKey(entries: readonly KernelEntry[]): WantedIndex {
  const byKey = new Map<string, KernelEntry>();
  for (let i = 0; i < entries.length; i++) byKey.set(entries[i]!.key, entries[i]!);
  return {
    get: (k) => byKey.get(k),
    all: () => {
      const out: KernelEntry[] = [];
      byKey.forEach((e) => out.push(e));
      return out;
    },
  };
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
  for (const h of have) compareOne(h, wanted.get(h.key), seen, o, dels, puts);
  for (const [key, w] of wanted) if (!seen.has(key)) puts.push(w);
  return { dels: byRank(dels, -1), puts: byRank(puts, 1) };
}

/** Entries compared between two turns of the event loop: 5-20 ms on a busy 2-core machine. */
export const ENTRIES_PER_SLICE = 1000;

/** What the engine wants, by key: a lookup and every entry, without copying them into a new map. */
export interface WantedIndex {
  get(key: string): KernelEntry | undefined;
  all(): readonly KernelEntry[];
}

/**
 * planDiff for the engine's big passes (a resync compares 20,000 entries at 5,000 vxlan peers): the same
 * answer, but it reads the engine's standing index instead of building one, and yields to the event loop
 * every ENTRIES_PER_SLICE entries so that /healthz and the lease watch are never kept waiting.
 */
export async function planDiffSliced(
  want: WantedIndex,
  have: readonly KernelEntry[],
  o: DiffOptions & { abandonWhen: () => boolean },
): Promise<DiffPlan | undefined>;
export async function planDiffSliced(want: WantedIndex, have: readonly KernelEntry[], o: DiffOptions): Promise<DiffPlan>;
export async function planDiffSliced(want: WantedIndex, have: readonly KernelEntry[], o: DiffOptions): Promise<DiffPlan | undefined> {
  const dels: KernelEntry[] = [];
  const puts: KernelEntry[] = [];
  const seen = new Set<string>();
  const turn = async () => {
    await yieldToLoop();
    return o.abandonWhen?.() ?? false;
  };
  for (let i = 0; i < have.length; i++) {
    if (i > 0 && i % ENTRIES_PER_SLICE === 0 && (await turn())) return undefined;
    const h = have[i]!;
    compareOne(h, want.get(h.key), seen, o, dels, puts);
  }
  const all = want.all();
  for (let i = 0; i < all.length; i++) {
    if ((i + 1) % ENTRIES_PER_SLICE === 0 && (await turn())) return undefined;
    if (!seen.has(all[i]!.key)) puts.push(all[i]!);
  }
  return { dels: byRank(dels, -1), puts: byRank(puts, 1) };
}

/** Requests by index: an array, or a plan's requests built as they are read. */
export interface RequestList {
  readonly length: number;
  at(i: number): NetlinkRequest | undefined;
}

/**
 * A plan's requests, deletions first, each built when it is read (and built again if read again): a
 * pass sends them a chunk at a time, so its 20,000 requests never all exist at once, and none of them
 * lives long enough for the garbage collector to copy it.
 */
export function planRequests(plan: DiffPlan): RequestList {
  const { dels, puts } = plan;
  return {
    length: dels.length + puts.length,
    at: (i) => (i < 0 ? undefined : i < dels.length ? dels[i]!.del() : puts[i - dels.length]?.put()),
  };
}

function compareOne(h: KernelEntry, w: KernelEntry | undefined, seen: Set<string>, o: DiffOptions, dels: KernelEntry[], puts: KernelEntry[]): void {
  if (!w || seen.has(h.key)) {
    // A second object under one key (a duplicate) is as stale as an unwanted one.
    if (o.prune) dels.push(h);
    return;
  }
  seen.add(h.key);
  if (w.value !== h.value) puts.push(w);
}

/**
 * The entries ordered by rank (ascending for 1, descending for -1), keeping their order within a rank.
 * Ranks are a handful of small numbers: grouping is linear, where a sort of 20,000 entries is not.
 */
function byRank(entries: KernelEntry[], direction: 1 | -1): KernelEntry[] {
  const groups = new Map<number, KernelEntry[]>();
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    const g = groups.get(e.rank);
    if (g) g.push(e);
    else groups.set(e.rank, [e]);
  }
  if (groups.size <= 1) return entries;
  const out: KernelEntry[] = [];
  for (const rank of [...groups.keys()].sort((a, b) => (a - b) * direction)) {
    const g = groups.get(rank)!;
    for (let i = 0; i < g.length; i++) out.push(g[i]!);
  }
  return out;
}

/** An entry's kind, the first word of its key: route, neigh, fdb, nexthop. */
export function entryKind(e: KernelEntry): string {
  const space = e.key.indexOf(' ');
  return space < 0 ? e.key : e.key.slice(0, space);
}

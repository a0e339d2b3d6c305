import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { Observable, Subscription } from 'rxjs';
import type { Clock } from '../contracts/clock.js';
import type { Dataplane, DeviceCheck, PeerPlan } from '../contracts/dataplane.js';
import type { Lease, LeaseEvent, LeaseWatchResult } from '../contracts/lease.js';
import type { Logger } from '../contracts/logger.js';
import type { Netlink } from '../contracts/netlink.js';
import type { NetworkConfig } from '../contracts/network-config.js';
import type { DataplaneDiff, DiffEntry, NetworkStats, NetworkStatus, PeerStatus } from '../contracts/network.js';
import type { ReconcilerObserver } from '../contracts/observer.js';
import type { OpResult } from '../contracts/netlink.js';
import type { NetlinkRequest } from '../netlink/socket/netlink-socket.js';
import { LeaseWatcher } from '../lease/lease-watcher.js';
import { retryBackoff } from '../util/retry.js';
import { applyBatched, logFailures } from './apply-batched.js';
import {
  entryKind,
  ENTRIES_PER_SLICE,
  indexByKey,
  planDiffSliced,
  planRequests,
  type DiffPlan,
  type KernelEntry,
  type RequestList,
  type WantedIndex,
} from './kernel-entry.js';
import { PeerGuard } from './peer-guard.js';
import { ResyncRequest } from './resync-request.js';

export interface ReconcilerDeps {
  netlink: Netlink;
  logger: Logger;
  clock: Clock;
  /** The store's lease stream: a snapshot first, then changes. */
  leases: Observable<LeaseWatchResult>;
  /** Our own lease, never programmed as a peer. */
  ownLease: Lease;
  /** The network config: peer subnets must lie inside its networks and have its subnet lengths. */
  config?: NetworkConfig;
  /** Told about every pass, repair and netlink error (flanneld's metrics). */
  observer?: ReconcilerObserver;
}

export interface ReconcilerTiming {
  /** A full comparison with the kernel this often, even if nothing reported a change. */
  resyncMs: number;
  /** Wait this long after a kernel change before resyncing, so a burst costs one pass. */
  settleMs: number;
  /** At least this long between two resyncs, whatever asks for them. */
  minGapMs: number;
  /** After a failed write, try again (with a full resync) this much later. */
  retryMs: number;
}

/**
 * The kernel's own notifications bring every deletion of an entry we own within settleMs; the periodic
 * pass is for what they do not tell (an entry changed in place, a foreign one added, a WireGuard peer
 * removed). Each pass reads and compares every entry (~25 ms of CPU per 1,000 vxlan peers here), so once
 * a minute: at 10 s it was most of an idle flanneld's CPU.
 */
export const DEFAULT_TIMING: ReconcilerTiming = { resyncMs: 60_000, settleMs: 20, minGapMs: 200, retryMs: 1000 };

/**
 * Lease events are planned in slices of this many, with a turn of the event loop between slices: planning a
 * vxlan peer (guard, entries, index) costs 20-60 µs here, so a slice holds the loop 5-15 ms.
 */
export const EVENTS_PER_SLICE = 250;

/**
 * Lease events that arrive during a resync's comparison stop it, and are applied first; the resync starts
 * over after them. A steady stream of events could hold it off for ever, so after this many stops in a row
 * it runs to the end whatever arrives.
 */
const MAX_RESYNC_PREEMPTIONS = 3;

interface Peer {
  /** peerKey(lease) */
  key: string;
  lease: Lease;
  plan: PeerPlan;
}

/**
 * The reconciliation engine: lease events → a backend's kernel entries → diff → batched netlink writes.
 *
 * - Lease events are applied as they come, diffed against what we last wrote for that peer (no kernel
 *   read on this path, so thousands of peers converge in one batch). The first snapshot's pass is the
 *   exception: it is compared with the kernel (see planFirstSync).
 * - A resync compares every wanted entry with a fresh kernel listing and repairs the difference. It runs
 *   periodically, after a kernel notification says an entry we want is gone, and after a failed write.
 *   Resyncs never overlap, at most one is pending, and they are spaced (see ResyncRequest).
 * - Entries of ours that no lease wants are deleted only from the first lease snapshot on: before it,
 *   "not wanted" only means "not heard of yet".
 * - One entry key belongs to one peer: a lease whose entries collide with another peer's is refused.
 * - Work is done by one loop that yields between slices and between netlink chunks, and pending
 *   lease events are coalesced per subnet, so memory stays bounded however fast the store talks.
 */
export class Reconciler {
  private readonly peers = new Map<string, Peer>();
  /** Entry key → the peer whose plan holds it: the standing index of what we want, kept as peers come and go. */
  private readonly owners = new Map<string, Peer>();
  private readonly wanted: WantedIndex = {
    get: (key) => entryOf(this.owners.get(key), key),
    all: () => this.wantedEntries(),
  };
  private pendingEvents = new Map<string, LeaseEvent>();
  /** Store results of more than EVENTS_PER_SLICE events, not yet given to the watcher (see watchLeases). */
  private readonly bigResults: { result: LeaseWatchResult; at: number }[] = [];
  private readonly watcher: LeaseWatcher;
  /** When the oldest pending event of each peer arrived (performance.now()), for the lease-to-kernel figure. */
  private pendingSince = new Map<string, number>();
  private lastPass: NetworkStatus['lastPass'];
  private readonly repairs: Record<string, number> = {};
  private readonly resync: ResyncRequest;
  private readonly guard: PeerGuard;
  private snapshotSeen = false;
  private synced = false;
  /** The kernel was compared with every lease of the first snapshot and the difference written (first pass or a resync). */
  private fullySynced = false;
  private wake: (() => void) | undefined;
  private failure: Error | undefined;
  /** Resyncs stopped in a row by lease events (see MAX_RESYNC_PREEMPTIONS). */
  private preemptions = 0;
  /** Peers with entries in the kernel, and peers with a problem; kept as counts so logging them is cheap. */
  private programmed = 0;
  private partial = 0;
  private skipped = 0;

  constructor(
    private readonly dataplane: Dataplane,
    private readonly deps: ReconcilerDeps,
    private readonly timing: ReconcilerTiming = DEFAULT_TIMING,
  ) {
    this.resync = new ResyncRequest(deps.clock, timing.settleMs, timing.minGapMs);
    this.guard = new PeerGuard(deps.config, deps.ownLease);
    this.watcher = new LeaseWatcher(deps.ownLease, (l) => deps.logger.debug({ subnet: String(l.subnet) }, 'removed subnet was not known'));
  }

  stats(): NetworkStats {
    return { peers: this.programmed, skippedPeers: this.skipped, partialPeers: this.partial, synced: this.fullySynced };
  }

  /** The peer table and the engine's progress. */
  status(): NetworkStatus {
    const peers: PeerStatus[] = [];
    for (const { lease, plan } of this.peers.values()) {
      const a = lease.attrs;
      peers.push({
        ...(lease.subnet ? { subnet: lease.subnet.toString() } : {}),
        ...(lease.ipv6Subnet ? { ipv6Subnet: lease.ipv6Subnet.toString() } : {}),
        ...(a.publicIP ? { publicIP: a.publicIP.toString() } : {}),
        ...(a.publicIPv6 ? { publicIPv6: a.publicIPv6.toString() } : {}),
        ...(a.backendType !== undefined ? { backendType: a.backendType } : {}),
        ...(a.backendData !== undefined ? { backendData: a.backendData } : {}),
        state: plan.entries.length === 0 ? 'skipped' : plan.problems.length > 0 ? 'partial' : 'programmed',
        problems: [...plan.problems],
        entries: plan.entries.length,
      });
    }
    return { synced: this.fullySynced, peers, ...(this.lastPass ? { lastPass: this.lastPass } : {}), repairs: { ...this.repairs } };
  }

  /** Reads the kernel and compares it with what the leases want; writes nothing. */
  async diff(): Promise<DataplaneDiff> {
    const kernel = await this.dataplane.readKernel();
    const owner = (key: string) => this.owners.get(key)?.key;
    const out: DataplaneDiff = { missing: [], stale: [], different: [] };
    const seen = new Set<string>();
    for (let i = 0; i < kernel.length; i++) {
      if (i > 0 && i % ENTRIES_PER_SLICE === 0) await yieldToLoop();
      const h = kernel[i]!;
      const w = this.wanted.get(h.key);
      const base: DiffEntry = { kind: entryKind(h), key: h.key, have: h.value };
      if (!w || seen.has(h.key)) out.stale.push(base);
      else if (w.value !== h.value) out.different.push({ ...base, want: w.value, peer: owner(h.key)! });
      seen.add(h.key);
    }
    for (const w of this.wantedEntries()) if (!seen.has(w.key)) out.missing.push({ kind: entryKind(w), key: w.key, want: w.value, peer: owner(w.key)! });
    return out;
  }

  /** Keeps the kernel in step until `signal` aborts; rejects if the lease stream fails. */
  async run(signal: AbortSignal): Promise<void> {
    const subs = [this.watchLeases(), this.watchKernel()];
    const finished = new AbortController();
    const periodic = this.periodic(AbortSignal.any([signal, finished.signal]));
    const onAbort = () => this.wake?.();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await this.loop(signal);
    } finally {
      signal.removeEventListener('abort', onAbort);
      for (const s of subs) s.unsubscribe();
      finished.abort();
      await periodic;
    }
    if (this.failure) throw this.failure;
  }

  private watchLeases(): Subscription {
    return this.deps.leases.subscribe({
      next: (result) => {
        const at = performance.now();
        // A result of thousands of events (a lease revoked under 5,000 keys) is taken by the loop a slice
        // at a time; anything after it waits its turn, so the order of events is kept.
        const size = result.kind === 'events' ? result.events.length : result.snapshot.length;
        if (this.bigResults.length > 0 || size > EVENTS_PER_SLICE) this.bigResults.push({ result, at });
        else this.takeResult(result, at);
        this.wake?.();
      },
      error: (err: Error) => {
        this.failure = new Error(`lease watch failed: ${err.message}`);
        this.wake?.();
      },
    });
  }

  /** The store's big results, in order, with a turn of the event loop between slices of their events. */
  private async takeBigResults(): Promise<void> {
    while (this.bigResults.length > 0) {
      // The result stays at the head of the queue until it is taken whole: a result that arrives meanwhile queues behind it.
      const { result, at } = this.bigResults[0]!;
      // A snapshot is compared with the known leases a slice at a time too; nothing else uses the watcher meanwhile.
      const events = result.kind === 'snapshot' ? await this.watcher.resetInSlices(result.snapshot, EVENTS_PER_SLICE, yieldToLoop) : result.events;
      for (let i = 0; i < events.length; i += EVENTS_PER_SLICE) {
        if (i > 0) await yieldToLoop();
        const slice = events.slice(i, i + EVENTS_PER_SLICE);
        this.takeEvents(result.kind === 'snapshot' ? slice : this.watcher.update(slice), at);
      }
      if (result.kind === 'snapshot') this.snapshotTaken();
      this.bigResults.shift();
    }
  }

  private takeResult(result: LeaseWatchResult, at: number): void {
    this.takeEvents(this.watcher.apply(result), at);
    if (result.kind === 'snapshot') this.snapshotTaken();
  }

  private snapshotTaken(): void {
    this.deps.observer?.leaseEvents?.('snapshot', 1);
    this.snapshotSeen = true;
  }

  /** Queues the watcher's events for the next pass, one per peer (the latest wins). */
  private takeEvents(events: readonly LeaseEvent[], at: number): void {
    let added = 0;
    let removed = 0;
    for (let i = 0; i < events.length; i++) {
      const ev = events[i]!;
      const key = peerKey(ev.lease);
      this.pendingEvents.set(key, ev);
      if (!this.pendingSince.has(key)) this.pendingSince.set(key, at);
      if (ev.type === 'added') added++;
      else removed++;
    }
    const observer = this.deps.observer;
    if (added > 0) observer?.leaseEvents?.('added', added);
    if (removed > 0) observer?.leaseEvents?.('removed', removed);
  }

  private watchKernel(): Subscription {
    const { watch } = this.dataplane;
    const { logger, clock } = this.deps;
    return this.deps.netlink
      .monitor(watch.topics, watch.deletionsOnly ? { deletionsOnly: watch.deletionsOnly } : {})
      .pipe(
        retryBackoff({
          clock,
          initialMs: 1000,
          maxMs: 10_000,
          onError: (err) => {
            // Notifications were lost, so what they said is unknown: compare everything.
            logger.warn({ err: (err as Error).message }, 'netlink monitor lost events; resyncing');
            this.requestResync('netlink monitor restarted', 0);
          },
        }),
      )
      .subscribe((ev) => {
        const meaning = watch.classify(ev);
        if (!meaning) return;
        if ('resync' in meaning) this.requestResync(meaning.resync);
        else if (this.owners.has(meaning.deleted)) this.requestResync(`${meaning.deleted} deleted`);
      });
  }

  private async periodic(signal: AbortSignal): Promise<void> {
    while (await this.deps.clock.sleep(this.timing.resyncMs, signal)) this.requestResync('periodic resync', 0);
  }

  private requestResync(reason: string, delayMs?: number): void {
    this.resync.add(reason, delayMs);
    this.wake?.();
  }

  private async loop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted && !this.failure) {
      if (this.bigResults.length > 0) {
        await this.takeBigResults();
        continue;
      }
      if (this.pendingEvents.size > 0) {
        await this.applyEvents();
        continue;
      }
      if (this.snapshotSeen && !this.synced) {
        this.synced = true;
        this.requestResync('first full sync', 0);
      }
      if (this.resync.pending && this.resync.waitMs() <= 0) {
        await this.runResync();
        continue;
      }
      await this.idle(signal, this.resync.pending ? this.resync.waitMs() : undefined);
    }
  }

  /** Waits for new work, abort, or `ms` (when a resync is due then). */
  private async idle(signal: AbortSignal, ms: number | undefined): Promise<void> {
    const stopWaiting = new AbortController();
    const woken = new Promise<void>((resolve) => (this.wake = resolve));
    const waits: Promise<unknown>[] = [woken];
    if (ms !== undefined) waits.push(this.deps.clock.sleep(ms, AbortSignal.any([signal, stopWaiting.signal])));
    await Promise.race(waits);
    this.wake = undefined;
    stopWaiting.abort();
  }

  private async applyEvents(): Promise<void> {
    this.deps.observer?.passStarted?.('events');
    const started = performance.now();
    const batch = [...this.pendingEvents.values()];
    const firstPass = this.snapshotSeen && !this.synced;
    const since = this.pendingSince;
    this.pendingEvents = new Map();
    this.pendingSince = new Map();
    const was: KernelEntry[] = [];
    const now: KernelEntry[] = [];
    for (let i = 0; i < batch.length; i++) {
      if (i > 0 && i % EVENTS_PER_SLICE === 0) await yieldToLoop();
      const ev = batch[i]!;
      const key = peerKey(ev.lease);
      const prev = this.peers.get(key);
      if (prev) {
        pushAll(was, prev.plan.entries);
        this.forget(prev);
      }
      if (ev.type === 'removed') {
        this.deps.logger.debug({ peer: key }, 'peer removed');
        continue;
      }
      const plan = this.remember(key, ev.lease, this.plan(key, ev.lease));
      pushAll(now, plan.entries);
      if (plan.problems.length > 0) this.reportProblems(ev.lease, plan);
    }
    // Entries that moved between peers in this batch are both "was" and "now": the diff keeps them. With
    // nothing that was (new peers: a whole start), no lookup is needed: no two peers hold one key (see
    // remember()), and a backend that repeats a key within one plan gets both puts, the last one winning.
    const compared = firstPass ? await this.planFirstSync() : undefined;
    const plan = compared ?? (await planDiffSliced(was.length === 0 ? { get: () => undefined, all: () => now } : indexByKey(now), was, { prune: true }));
    const ops = planRequests(plan);
    const applyStarted = performance.now();
    const results = await applyBatched(this.deps.netlink, ops);
    const failed = logFailures(ops, results, this.deps.logger, 'applying lease events');
    if (failed > 0) this.requestResync('retry after failed updates', this.timing.retryMs);
    if (compared) {
      // Synced once the writes are in, not when they are planned: readiness must not say so in between.
      // After a failure the retry's resync says it.
      this.synced = true;
      if (failed === 0) this.fullySynced = true;
    }
    const done = performance.now();
    this.reportOps(ops, results);
    const observer = this.deps.observer;
    if (observer?.leaseToKernel) for (const t of since.values()) observer.leaseToKernel((done - t) / 1000);
    observer?.reconcilePass?.('events', failed === 0);
    this.lastPass = { kind: 'events', at: this.deps.clock.now().toISOString(), operations: ops.length, failed };
    const { peers, skippedPeers } = this.stats();
    this.deps.logger.info(
      { events: batch.length, operations: ops.length, peers, skippedPeers, ms: Math.round(done - started), netlinkMs: Math.round(done - applyStarted) },
      'applied lease events',
    );
  }

  /**
   * The first snapshot's pass is compared with the kernel, as a resync is: it writes only what differs (a
   * restart with every peer in place writes nothing, where it rewrote every entry) and prunes what was left
   * from before, so no full sync has to follow it (at 1,000 peers one was a tenth of the first minute's
   * CPU). If the kernel cannot be read, the pass writes every peer and the full sync follows as before.
   * `ensureDevices` is not called first: the devices were set up just before.
   */
  private async planFirstSync(): Promise<DiffPlan | undefined> {
    try {
      return await planDiffSliced(this.wanted, await this.dataplane.readKernel(), { prune: true });
    } catch (err) {
      this.deps.logger.warn({ err: (err as Error).message }, 'cannot read the kernel before the first pass; writing every peer, and comparing after');
      return undefined;
    }
  }

  private async runResync(): Promise<void> {
    const reasons = this.resync.take();
    const observer = this.deps.observer;
    observer?.passStarted?.('resync');
    const afterSnapshot = this.synced;
    const preemptible = this.preemptions < MAX_RESYNC_PREEMPTIONS;
    const eventsWaiting = () => preemptible && (this.pendingEvents.size > 0 || this.bigResults.length > 0);
    let preempted = false;
    try {
      const devices = toDeviceCheck(await this.dataplane.ensureDevices(reasons));
      if (devices.replan) this.replanAll();
      this.countRepairs('device', devices.repaired.length);
      const kernel = await this.dataplane.readKernel();
      const plan = eventsWaiting() ? undefined : await planDiffSliced(this.wanted, kernel, { prune: this.synced, abandonWhen: eventsWaiting });
      if (!plan) {
        preempted = true;
        this.preemptions++;
        this.deps.logger.debug({ reasons, pendingPeers: this.pendingEvents.size }, 'resync stopped: lease events first');
        return;
      }
      this.preemptions = 0;
      const ops = planRequests(plan);
      // Compared with every lease: the first full sync is done once this follows the first snapshot.
      if (afterSnapshot) this.fullySynced = true;
      if (ops.length === 0) {
        this.deps.logger.debug({ peers: this.peers.size, reasons }, 'kernel state matches');
        observer?.reconcilePass?.('resync', true);
        this.lastPass = { kind: 'resync', at: this.deps.clock.now().toISOString(), operations: 0, failed: 0, reasons };
        return;
      }
      this.deps.logger.info({ operations: ops.length, reasons }, 'repairing kernel state');
      const results = await applyBatched(this.deps.netlink, ops);
      const failed = logFailures(ops, results, this.deps.logger, 'repairing kernel state');
      if (failed > 0) this.requestResync('retry after failed repairs', this.timing.retryMs);
      this.reportOps(ops, results);
      const byKind = new Map<string, number>();
      const count = (e: KernelEntry, i: number) => {
        if (!results[i] || !isFailure(ops.at(i)!, results[i])) byKind.set(entryKind(e), (byKind.get(entryKind(e)) ?? 0) + 1);
      };
      plan.dels.forEach((e, i) => count(e, i));
      plan.puts.forEach((e, i) => count(e, plan.dels.length + i));
      for (const [kind, n] of byKind) this.countRepairs(kind, n);
      observer?.reconcilePass?.('resync', failed === 0);
      this.lastPass = { kind: 'resync', at: this.deps.clock.now().toISOString(), operations: ops.length, failed, reasons };
    } catch (err) {
      this.deps.logger.error({ err: (err as Error).message, reasons }, 'resync failed; retrying');
      this.requestResync('retry after a failed resync', this.timing.retryMs);
      observer?.reconcilePass?.('resync', false);
    } finally {
      this.resync.finished();
      // Due again as soon as the events are applied (the gap after finished() still holds).
      if (preempted) for (const r of reasons) this.resync.add(r, 0);
    }
  }

  private countRepairs(kind: string, n: number): void {
    if (n <= 0) return;
    this.repairs[kind] = (this.repairs[kind] ?? 0) + n;
    this.deps.observer?.repaired?.(kind, n);
  }

  /** Operations sent and failures by errno, for the observer (deleting what is already gone is no failure). */
  private reportOps(ops: RequestList, results: readonly OpResult[]): void {
    const observer = this.deps.observer;
    if (!observer?.netlinkOps || ops.length === 0) return;
    const errors = new Map<string, number>();
    results.forEach((r, i) => {
      if (r && isFailure(ops.at(i)!, r)) errors.set(r.code ?? 'EUNKNOWN', (errors.get(r.code ?? 'EUNKNOWN') ?? 0) + 1);
    });
    observer.netlinkOps(ops.length, errors);
  }

  /** After a device changed: every peer planned again (the old entries' cleanup is the resync's prune). */
  private replanAll(): void {
    const peers = [...this.peers.values()];
    for (const peer of peers) this.forget(peer);
    for (const peer of peers) this.remember(peer.key, peer.lease, this.plan(peer.key, peer.lease));
  }

  /** The backend's plan for a lease the guard lets through. */
  private plan(key: string, lease: Lease): PeerPlan {
    const refused = this.guard.check(key, lease);
    if (refused.length > 0) return { entries: [], problems: refused };
    try {
      return this.dataplane.planPeer(lease);
    } catch (err) {
      return { entries: [], problems: [`the backend cannot plan it: ${(err as Error).message}`] };
    }
  }

  /** Records a peer and its plan, taking its entry keys; refuses the whole plan if another peer owns one. */
  private remember(key: string, lease: Lease, wanted: PeerPlan): PeerPlan {
    const taken = wanted.entries.find((e) => this.owners.has(e.key));
    const plan = taken ? { entries: [], problems: [...wanted.problems, `its ${taken.key} belongs to peer ${this.owners.get(taken.key)!.key}`] } : wanted;
    const peer: Peer = { key, lease, plan };
    for (const e of plan.entries) this.owners.set(e.key, peer);
    if (plan.entries.length > 0) this.guard.accept(key, lease);
    this.peers.set(key, peer);
    if (plan.entries.length > 0) this.programmed++;
    if (plan.problems.length > 0) this.skipped++;
    if (plan.entries.length > 0 && plan.problems.length > 0) this.partial++;
    return plan;
  }

  private forget(peer: Peer): void {
    for (const e of peer.plan.entries) if (this.owners.get(e.key) === peer) this.owners.delete(e.key);
    this.guard.release(peer.key, peer.lease);
    this.peers.delete(peer.key);
    if (peer.plan.entries.length > 0) this.programmed--;
    if (peer.plan.problems.length > 0) this.skipped--;
    if (peer.plan.entries.length > 0 && peer.plan.problems.length > 0) this.partial--;
  }

  /**
   * Every entry we want, once per key, as an array: Map#forEach makes no iterator result per entry, which
   * a generator over 20,000 entries did (a start runs this before the optimising compiler has seen it).
   */
  private wantedEntries(): KernelEntry[] {
    const out: KernelEntry[] = [];
    this.owners.forEach((peer, key) => out.push(entryOf(peer, key)!));
    return out;
  }

  private reportProblems(lease: Lease, plan: PeerPlan): void {
    this.deps.logger.warn(
      {
        subnet: lease.subnet?.toString(),
        ipv6Subnet: lease.ipv6Subnet?.toString(),
        publicIP: lease.attrs.publicIP?.toString(),
        problems: plan.problems,
        skippedPeers: this.skipped,
      },
      plan.entries.length > 0 ? 'programming part of a peer lease' : 'skipping peer',
    );
  }
}

/** A failed operation, as logFailures counts them: deleting what is already gone is success. */
function isFailure(op: NetlinkRequest, r: OpResult): boolean {
  if (!r) return false;
  return !(op.op.includes(' del ') && (r.code === 'ENOENT' || r.code === 'ESRCH'));
}

/** The entry of a peer's plan with this key. */
function entryOf(peer: Peer | undefined, key: string): KernelEntry | undefined {
  if (!peer) return undefined;
  const entries = peer.plan.entries;
  for (let i = 0; i < entries.length; i++) if (entries[i]!.key === key) return entries[i];
  return undefined;
}

/** Appends without spreading (a spread iterates, and a cold start runs this unoptimised 5,000 times). */
function pushAll<T>(to: T[], from: readonly T[]): void {
  for (let i = 0; i < from.length; i++) to.push(from[i]!);
}

function toDeviceCheck(answer: boolean | DeviceCheck): DeviceCheck {
  return typeof answer === 'boolean' ? { replan: answer, repaired: [] } : answer;
}

/** A peer's identity: its subnets, as the lease watcher matches them. */
export function peerKey(lease: Lease): string {
  return `${lease.subnet ?? '-'} ${lease.ipv6Subnet ?? '-'}`;
}

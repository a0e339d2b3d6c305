import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { Observable, Subscription } from 'rxjs';
import type { Clock } from '../contracts/clock.js';
import type { Dataplane, PeerPlan } from '../contracts/dataplane.js';
import type { Lease, LeaseEvent, LeaseWatchResult } from '../contracts/lease.js';
import type { Logger } from '../contracts/logger.js';
import type { Netlink } from '../contracts/netlink.js';
import type { NetworkConfig } from '../contracts/network-config.js';
import type { NetworkStats } from '../contracts/network.js';
import { LeaseWatcher } from '../lease/lease-watcher.js';
import { retryBackoff } from '../util/retry.js';
import { applyBatched, logFailures } from './apply-batched.js';
import { diffEntries, type KernelEntry } from './kernel-entry.js';
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

export const DEFAULT_TIMING: ReconcilerTiming = { resyncMs: 10_000, settleMs: 20, minGapMs: 200, retryMs: 1000 };

/** Lease events are planned in slices of this many, with a turn of the event loop between slices. */
const EVENTS_PER_SLICE = 500;

interface Peer {
  lease: Lease;
  plan: PeerPlan;
}

/**
 * The reconciliation engine: lease events → a backend's kernel entries → diff → batched netlink writes.
 *
 * - Lease events are applied as they come, diffed against what we last wrote for that peer (no kernel
 *   read on this path, so thousands of peers converge in one batch).
 * - A resync compares every wanted entry with a fresh kernel listing and repairs the difference. It runs
 *   periodically, after a kernel notification says an entry we want is gone, and after a failed write.
 *   Resyncs never overlap, at most one is pending, and they are spaced (see ResyncRequest).
 * - Entries of ours that no lease wants are deleted only after the first lease snapshot is applied:
 *   before that, "not wanted" only means "not heard of yet".
 * - One entry key belongs to one peer: a lease whose entries collide with another peer's is refused.
 * - Work is done by one loop that yields between slices and between netlink chunks, and pending
 *   lease events are coalesced per subnet, so memory stays bounded however fast the store talks.
 */
export class Reconciler {
  private readonly peers = new Map<string, Peer>();
  private readonly owners = new Map<string, string>();
  private pendingEvents = new Map<string, LeaseEvent>();
  private readonly resync: ResyncRequest;
  private readonly guard: PeerGuard;
  private snapshotSeen = false;
  private synced = false;
  private wake: (() => void) | undefined;
  private failure: Error | undefined;
  /** Peers with entries in the kernel, and peers with a problem; kept as counts so logging them is cheap. */
  private programmed = 0;
  private skipped = 0;

  constructor(
    private readonly dataplane: Dataplane,
    private readonly deps: ReconcilerDeps,
    private readonly timing: ReconcilerTiming = DEFAULT_TIMING,
  ) {
    this.resync = new ResyncRequest(deps.clock, timing.settleMs, timing.minGapMs);
    this.guard = new PeerGuard(deps.config, deps.ownLease);
  }

  stats(): NetworkStats {
    return { peers: this.programmed, skippedPeers: this.skipped };
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
    const watcher = new LeaseWatcher(this.deps.ownLease, (l) => this.deps.logger.debug({ subnet: String(l.subnet) }, 'removed subnet was not known'));
    return this.deps.leases.subscribe({
      next: (result) => {
        for (const ev of watcher.apply(result)) this.pendingEvents.set(peerKey(ev.lease), ev);
        if (result.kind === 'snapshot') this.snapshotSeen = true;
        this.wake?.();
      },
      error: (err: Error) => {
        this.failure = new Error(`lease watch failed: ${err.message}`);
        this.wake?.();
      },
    });
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
    const started = performance.now();
    const batch = [...this.pendingEvents.values()];
    this.pendingEvents = new Map();
    const was: KernelEntry[] = [];
    const now: KernelEntry[] = [];
    for (let i = 0; i < batch.length; i++) {
      if (i > 0 && i % EVENTS_PER_SLICE === 0) await yieldToLoop();
      const ev = batch[i]!;
      const key = peerKey(ev.lease);
      const prev = this.peers.get(key);
      if (prev) {
        was.push(...prev.plan.entries);
        this.forget(key, prev);
      }
      if (ev.type === 'removed') {
        this.deps.logger.debug({ peer: key }, 'peer removed');
        continue;
      }
      const plan = this.remember(key, ev.lease, this.plan(key, ev.lease));
      now.push(...plan.entries);
      if (plan.problems.length > 0) this.reportProblems(ev.lease, plan);
    }
    // Entries that moved between peers in this batch are both "was" and "now": the diff keeps them.
    const ops = diffEntries(now, was, { prune: true });
    const applyStarted = performance.now();
    const failed = logFailures(ops, await applyBatched(this.deps.netlink, ops), this.deps.logger, 'applying lease events');
    if (failed > 0) this.requestResync('retry after failed updates', this.timing.retryMs);
    const done = performance.now();
    const { peers, skippedPeers } = this.stats();
    this.deps.logger.info(
      { events: batch.length, operations: ops.length, peers, skippedPeers, ms: Math.round(done - started), netlinkMs: Math.round(done - applyStarted) },
      'applied lease events',
    );
  }

  private async runResync(): Promise<void> {
    const reasons = this.resync.take();
    try {
      if (await this.dataplane.ensureDevices(reasons)) this.replanAll();
      const kernel = await this.dataplane.readKernel();
      const ops = diffEntries(this.wantedEntries(), kernel, { prune: this.synced });
      if (ops.length === 0) {
        this.deps.logger.debug({ peers: this.peers.size, reasons }, 'kernel state matches');
        return;
      }
      this.deps.logger.info({ operations: ops.length, reasons }, 'repairing kernel state');
      const failed = logFailures(ops, await applyBatched(this.deps.netlink, ops), this.deps.logger, 'repairing kernel state');
      if (failed > 0) this.requestResync('retry after failed repairs', this.timing.retryMs);
    } catch (err) {
      this.deps.logger.error({ err: (err as Error).message, reasons }, 'resync failed; retrying');
      this.requestResync('retry after a failed resync', this.timing.retryMs);
    } finally {
      this.resync.finished();
    }
  }

  /** After a device changed: every peer planned again (the old entries' cleanup is the resync's prune). */
  private replanAll(): void {
    const peers = [...this.peers];
    for (const [key, peer] of peers) this.forget(key, peer);
    for (const [key, peer] of peers) this.remember(key, peer.lease, this.plan(key, peer.lease));
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
    const plan = taken ? { entries: [], problems: [...wanted.problems, `its ${taken.key} belongs to peer ${this.owners.get(taken.key)}`] } : wanted;
    for (const e of plan.entries) this.owners.set(e.key, key);
    if (plan.entries.length > 0) this.guard.accept(key, lease);
    this.peers.set(key, { lease, plan });
    if (plan.entries.length > 0) this.programmed++;
    if (plan.problems.length > 0) this.skipped++;
    return plan;
  }

  private forget(key: string, peer: Peer): void {
    for (const e of peer.plan.entries) if (this.owners.get(e.key) === key) this.owners.delete(e.key);
    this.guard.release(key, peer.lease);
    this.peers.delete(key);
    if (peer.plan.entries.length > 0) this.programmed--;
    if (peer.plan.problems.length > 0) this.skipped--;
  }

  private *wantedEntries(): Iterable<KernelEntry> {
    for (const p of this.peers.values()) yield* p.plan.entries;
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

/** A peer's identity: its subnets, as the lease watcher matches them. */
export function peerKey(lease: Lease): string {
  return `${lease.subnet ?? '-'} ${lease.ipv6Subnet ?? '-'}`;
}

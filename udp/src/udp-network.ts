// The udp backend's Network: the control plane on flanneld's event loop, the data path on a worker.
//
// run() follows the lease stream into the proxy's table (UdpPeers → DataPath.update), and keeps flannel0,
// its address and its route as registerNetwork left them: a kernel notification that one of them changed,
// a failed queue reported by the data path, or the periodic check (10 s) makes it compare and repair,
// recreating a deleted device under the same name and handing the new queue to the worker. No packet
// touches this thread, so /healthz and lease events are answered whatever the traffic.
import {
  retryBackoff,
  every,
  type BackendContext,
  type JsonValue,
  type Lease,
  type LeaseWatchResult,
  type Network,
  type NetworkConfig,
  type NetworkStats,
  type NetworkStatus,
} from '@flannel-ts/core';
import type { ProxyCounters } from './counters.js';
import type { DataPath } from './data-path.js';
import type { Flannel0 } from './device.js';
import { UdpPeers } from './peers.js';

export interface UdpTiming {
  /** A full check of flannel0 and its route this often, even if nothing reported a change. */
  resyncMs: number;
  /** Wait this long after a kernel change before checking, so a burst costs one check. */
  settleMs: number;
  /** At least this long between two checks. */
  minGapMs: number;
  /** After a failed repair, try again this much later. */
  retryMs: number;
  /** Data path drops are logged at most this often. */
  reportMs: number;
}

export const UDP_TIMING: UdpTiming = { resyncMs: 10_000, settleMs: 20, minGapMs: 200, retryMs: 1000, reportMs: 60_000 };

export interface UdpNetworkOptions {
  lease: Lease;
  mtu: number;
  config: NetworkConfig;
  port: number;
  device: Flannel0;
  dataPath: DataPath;
  /** What the data path does beyond the basics (GSO, GRO), for status. */
  details: Record<string, JsonValue>;
  timing?: Partial<UdpTiming>;
}

const DROPS: (keyof ProxyCounters)[] = ['noRoute', 'ttlExpired', 'malformed', 'foreign', 'sendDropped', 'tunWriteDropped', 'receiveErrors'];

export class UdpNetwork implements Network {
  readonly lease: Lease;
  readonly mtu: number;
  private readonly peers: UdpPeers;
  private readonly timing: UdpTiming;
  private readonly repairs: Record<string, number> = {};
  private lastPass: NetworkStatus['lastPass'];
  private readonly reasons = new Set<string>();
  private dueAt = Number.POSITIVE_INFINITY;
  private lastCheckAt = Number.NEGATIVE_INFINITY;
  private wake: (() => void) | undefined;

  constructor(
    private readonly ctx: BackendContext,
    private readonly o: UdpNetworkOptions,
  ) {
    this.lease = o.lease;
    this.mtu = o.mtu;
    this.timing = { ...UDP_TIMING, ...o.timing };
    this.peers = new UdpPeers(o.lease, o.config, o.port);
  }

  async run(signal: AbortSignal): Promise<void> {
    const { subnetManager, netlink, logger, clock } = this.ctx;
    const { dataPath, device } = this.o;
    const failed = new AbortController();
    let failure: Error | undefined;
    const fail = (err: Error) => {
      failure ??= err;
      failed.abort();
    };
    const live = AbortSignal.any([signal, failed.signal]);
    dataPath.onNotice((n) => {
      if (n.type === 'tun-lost') this.requestCheck(`${device.name}'s queue failed (${n.code})`, 0);
      else if (n.type === 'gso-off') logger.warn({ peer: n.peer, err: n.code }, 'UDP GSO refused on the way to a peer; sending it one datagram per message');
    });
    try {
      await dataPath.start();
    } catch (err) {
      throw new Error(`the udp data path did not start: ${(err as Error).message}`);
    }
    dataPath.ended.catch((err: Error) => fail(err));
    const leases = subnetManager.watchLeases().subscribe({
      next: (r) => this.applyLeases(r),
      error: (err: Error) => fail(new Error(`lease watch failed: ${err.message}`)),
    });
    const kernel = netlink
      .monitor(['link', 'addr', 'route'], { deletionsOnly: ['addr', 'route'] })
      .pipe(
        retryBackoff({
          clock,
          initialMs: 1000,
          maxMs: 10_000,
          onError: (err) => {
            logger.warn({ err: (err as Error).message }, 'netlink monitor lost events; checking flannel0');
            this.requestCheck('netlink monitor restarted', 0);
          },
        }),
      )
      .subscribe((ev) => {
        const why = device.classify(ev);
        if (why) this.requestCheck(why);
      });
    const onError = (err: unknown) => logger.error({ err: (err as Error).message }, 'udp backend: periodic work failed');
    const loops = Promise.all([
      this.checkLoop(live),
      every(this.timing.resyncMs, live, clock, async () => this.requestCheck('periodic check', 0), onError),
      this.reportDrops(live),
    ]);
    try {
      if (!live.aborted) await new Promise((resolve) => live.addEventListener('abort', resolve, { once: true }));
    } finally {
      leases.unsubscribe();
      kernel.unsubscribe();
      this.wake?.();
      await loops;
      await dataPath.stop();
    }
    if (failure) throw failure;
  }

  stats(): NetworkStats {
    return this.peers.stats();
  }

  status(): NetworkStatus {
    return {
      synced: this.peers.synced,
      peers: this.peers.status(),
      ...(this.lastPass ? { lastPass: this.lastPass } : {}),
      repairs: { ...this.repairs },
      details: { device: this.o.device.name, port: this.o.port, ...this.o.details, counters: { ...this.o.dataPath.counters() } },
    };
  }

  private applyLeases(result: LeaseWatchResult): void {
    const { logger, observer } = this.ctx;
    const changes = this.peers.apply(result);
    this.o.dataPath.update(changes.ops);
    if (changes.added > 0) observer?.leaseEvents?.('added', changes.added);
    if (changes.removed > 0) observer?.leaseEvents?.('removed', changes.removed);
    if (result.kind === 'snapshot') observer?.leaseEvents?.('snapshot', 1);
    const { peers, skippedPeers } = this.peers.stats();
    for (const p of changes.skipped) {
      logger.warn({ subnet: p.lease.subnet?.toString(), publicIP: p.lease.attrs.publicIP?.toString(), problems: p.problems, skippedPeers }, 'skipping peer');
    }
    this.lastPass = { kind: 'events', at: this.ctx.clock.now().toISOString(), operations: changes.ops.length, failed: 0 };
    logger.info({ added: changes.added, removed: changes.removed, peers, skippedPeers }, 'applied lease events to the udp proxy');
    observer?.reconcilePass?.('events', true);
  }

  private requestCheck(reason: string, delayMs = this.timing.settleMs): void {
    this.reasons.add(reason);
    this.dueAt = Math.min(this.dueAt, this.ctx.clock.now().getTime() + delayMs);
    this.wake?.();
  }

  /** Checks flannel0 when asked (coalesced, spaced), until `signal` aborts. */
  private async checkLoop(signal: AbortSignal): Promise<void> {
    const { clock } = this.ctx;
    const aborted = new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    while (!signal.aborted) {
      const now = clock.now().getTime();
      const wait = this.reasons.size === 0 ? undefined : Math.max(this.dueAt, this.lastCheckAt + this.timing.minGapMs) - now;
      if (wait !== undefined && wait <= 0) {
        await this.check();
        continue;
      }
      const woken = new Promise<void>((resolve) => (this.wake = resolve));
      const stopWaiting = new AbortController();
      const waits: Promise<unknown>[] = [woken, aborted];
      if (wait !== undefined) waits.push(clock.sleep(wait, AbortSignal.any([signal, stopWaiting.signal])));
      await Promise.race(waits);
      this.wake = undefined;
      stopWaiting.abort();
    }
  }

  private async check(): Promise<void> {
    const { logger, observer, clock } = this.ctx;
    const reasons = [...this.reasons];
    this.reasons.clear();
    this.dueAt = Number.POSITIVE_INFINITY;
    this.lastCheckAt = clock.now().getTime();
    try {
      const r = await this.o.device.ensure();
      if (r.newFd !== undefined) this.o.dataPath.replaceTun(r.newFd);
      if (r.repaired.length > 0) {
        logger.warn({ device: this.o.device.name, repaired: r.repaired, reasons }, 'flannel0 was not as we left it; put it back');
        for (const kind of r.repaired) {
          this.repairs[kind] = (this.repairs[kind] ?? 0) + 1;
          observer?.repaired?.(kind === 'route' ? 'route' : 'device', 1);
        }
      } else {
        logger.debug({ reasons }, 'flannel0 is as we left it');
      }
      this.lastPass = { kind: 'resync', at: clock.now().toISOString(), operations: r.repaired.length, failed: 0, reasons };
      observer?.reconcilePass?.('resync', true);
    } catch (err) {
      logger.error({ err: (err as Error).message, reasons }, 'cannot repair flannel0; retrying');
      this.lastPass = { kind: 'resync', at: clock.now().toISOString(), operations: 0, failed: 1, reasons };
      observer?.reconcilePass?.('resync', false);
      this.requestCheck('retry after a failed repair', this.timing.retryMs);
    }
  }

  /** Logs what the data path dropped, at most every reportMs, when it dropped anything. */
  private async reportDrops(signal: AbortSignal): Promise<void> {
    let last = this.o.dataPath.counters();
    await every(
      this.timing.reportMs,
      signal,
      this.ctx.clock,
      async () => {
        const now = this.o.dataPath.counters();
        const dropped = Object.fromEntries(DROPS.map((k) => [k, now[k] - last[k]]).filter(([, n]) => (n as number) > 0));
        if (Object.keys(dropped).length > 0) this.ctx.logger.info({ dropped, since: `${this.timing.reportMs / 1000} s` }, 'udp data path dropped packets');
        last = now;
      },
      () => undefined,
    );
  }
}

import { defer, tap, type Observable } from 'rxjs';
import type { Clock, Lease, LeaseAttrs, LeaseWatchResult, Logger, NetworkConfig, SubnetManager } from '@flannel-ts/core';
import type { DaemonMetrics } from './metrics.js';
import type { DaemonState } from './daemon-state.js';

/** Which store, where, and the flag that says so: named in the outage warning. */
export interface StoreIdentity {
  kind: 'etcd' | 'embedded' | 'kube';
  endpoint: string;
  flag: string;
}

/**
 * The subnet manager as flanneld uses it, counted: requests and failures per operation feed
 * flannel_store_requests_total / flannel_store_errors_total, and every answer or failure tells the
 * outage tracker whether the store is there.
 */
export class ObservedSubnetManager implements SubnetManager {
  constructor(
    private readonly inner: SubnetManager,
    private readonly metrics: DaemonMetrics,
    private readonly outages: OutageTracker,
    private readonly state: DaemonState,
  ) {}

  get name(): string {
    return this.inner.name;
  }

  getNetworkConfig(signal: AbortSignal): Promise<NetworkConfig> {
    return this.count('get_config', () => this.inner.getNetworkConfig(signal));
  }

  acquireLease(attrs: LeaseAttrs, signal: AbortSignal): Promise<Lease> {
    return this.count('acquire', () => this.inner.acquireLease(attrs, signal));
  }

  lookupLease(attrs: LeaseAttrs, signal: AbortSignal): Promise<Lease | undefined> {
    const inner = this.inner;
    return inner.lookupLease ? this.count('lookup', () => inner.lookupLease!(attrs, signal)) : Promise.resolve(undefined);
  }

  renewLease(lease: Lease, signal: AbortSignal): Promise<Lease> {
    return this.count('renew', () => this.inner.renewLease(lease, signal));
  }

  watchLeases(): Observable<LeaseWatchResult> {
    return defer(() => {
      this.metrics.storeRequestsTotal.inc({ op: 'watch' });
      return this.inner.watchLeases().pipe(
        tap({
          next: (result) => {
            this.outages.up();
            this.noticeOwnLease(result);
          },
          error: () => this.metrics.storeErrorsTotal.inc({ op: 'watch' }),
        }),
      );
    });
  }

  completeLease(lease: Lease, signal: AbortSignal): Promise<void> {
    return this.inner.completeLease(lease, signal);
  }

  /** Our own key written again after we took it: a renewal, whose new expiry status and metrics show. */
  private noticeOwnLease(result: LeaseWatchResult): void {
    const own = this.state.lease;
    if (!own?.subnet || result.kind !== 'events') return;
    for (const ev of result.events) {
      if (ev.type === 'added' && ev.lease.subnet?.equals(own.subnet)) this.state.ownLeaseWritten?.(ev.lease.expiration);
    }
  }

  /** The store's own close (the container's deactivation calls it on what it made: this wrapper). */
  async close(): Promise<void> {
    await (this.inner as { close?: () => Promise<void> }).close?.();
  }

  private async count<T>(op: string, call: () => Promise<T>): Promise<T> {
    this.metrics.storeRequestsTotal.inc({ op });
    try {
      const out = await call();
      this.outages.up();
      return out;
    } catch (err) {
      this.metrics.storeErrorsTotal.inc({ op });
      if (isUnreachable(err)) this.outages.down(err as Error);
      throw err;
    }
  }
}

/** Errors that mean "no answer" (refused, timed out, unavailable) rather than an answer we did not like. */
function isUnreachable(err: unknown): boolean {
  const e = err as { name?: string; message?: string; code?: string };
  if (e?.name === 'UserError') return false;
  return /unavailable|ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|timed? ?out|deadline|No connection|connect|aborted due to timeout|TimeoutError/i.test(
    `${e?.name ?? ''} ${e?.code ?? ''} ${e?.message ?? ''}`,
  );
}

/**
 * One warning per outage, naming the endpoint and the flag that sets it; one info line with the outage's
 * length when the store answers again. Feeds flannel_store_up, flannel_store_reconnects_total and the
 * store check of /readyz.
 */
export class OutageTracker {
  private downSince: Date | undefined;

  constructor(
    private readonly store: StoreIdentity,
    private readonly logger: Logger,
    private readonly clock: Clock,
    private readonly metrics: DaemonMetrics,
    private readonly state: DaemonState,
  ) {
    metrics.storeUp.set(1);
  }

  get isDown(): boolean {
    return this.downSince !== undefined;
  }

  down(err: Error): void {
    const st = this.state.store;
    st.lastError = err.message;
    if (this.downSince) return;
    this.downSince = this.clock.now();
    this.logger.warn(
      { store: this.store.kind, endpoint: this.store.endpoint, err: err.message },
      `cannot reach the ${this.store.kind} store at ${this.store.endpoint}; retrying quietly until it answers (check ${this.store.flag} and that the store is up)`,
    );
    this.metrics.storeUp.set(0);
    st.reachable = false;
    st.since = this.downSince.toISOString();
    this.state.changed();
  }

  up(): void {
    const since = this.downSince;
    if (!since) return;
    this.downSince = undefined;
    const seconds = Math.round((this.clock.now().getTime() - since.getTime()) / 100) / 10;
    this.logger.info(
      { store: this.store.kind, endpoint: this.store.endpoint, outageSeconds: seconds },
      `the ${this.store.kind} store answers again after ${seconds} s`,
    );
    this.metrics.storeUp.set(1);
    this.metrics.storeReconnectsTotal.inc();
    const st = this.state.store;
    st.reachable = true;
    delete st.since;
    delete st.lastError;
    this.state.changed();
  }
}

/**
 * While the daemon runs, asks the store for the network config every periodMs (a single small read):
 * the watch reconnects by itself and says nothing, so this is how an outage, and its end, are noticed.
 */
export async function monitorStore(manager: SubnetManager, clock: Clock, signal: AbortSignal, periodMs = 5000, timeoutMs = 3000): Promise<void> {
  while (await clock.sleep(periodMs, signal)) {
    await manager.getNetworkConfig(AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)])).catch(() => undefined);
  }
}

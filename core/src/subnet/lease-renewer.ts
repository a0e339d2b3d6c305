import type { Clock } from '../contracts/clock.js';
import type { Lease } from '../contracts/lease.js';
import type { Logger } from '../contracts/logger.js';
import { LeaseRevokedError } from '../contracts/subnet-manager.js';
import type { LeaseRegistry, RegistryUpdate } from './registry.js';

const RETRY_AFTER_FAILURE_MS = 60_000;
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Renews {
  renewLease(lease: Lease, signal: AbortSignal): Promise<Lease>;
}

/**
 * Holds our lease: renews it `marginMinutes` before it expires (retrying a failure after a minute, as Go
 * flannel does) and watches our key, rejecting with LeaseRevokedError when someone deletes it.
 */
export class LeaseRenewer {
  constructor(
    private readonly manager: Renews,
    private readonly registry: LeaseRegistry,
    private readonly logger: Logger,
    private readonly clock: Clock,
    private readonly marginMinutes: number,
  ) {}

  async run(lease: Lease, key: string, signal: AbortSignal): Promise<void> {
    const stop = new AbortController();
    const until = AbortSignal.any([signal, stop.signal]);
    let revoked: LeaseRevokedError | undefined;
    const subscription = this.registry.watch(lease.asof ?? 0).subscribe({
      next: (update: RegistryUpdate) => {
        const gone = update.kind === 'reset' ? !update.entries.some((e) => e.key === key) : update.changes.some((c) => c.type === 'delete' && c.key === key);
        if (!gone || revoked) return;
        this.logger.error({ subnet: String(lease.subnet) }, 'Lease has been revoked. Shutting down daemon.');
        revoked = new LeaseRevokedError(String(lease.subnet));
        stop.abort();
      },
    });
    try {
      let current = lease;
      let retryAt: number | undefined;
      while (!until.aborted) {
        // A reservation never expires: nothing to renew, only the watch to keep.
        const due = retryAt ?? (current.expiration ? current.expiration.getTime() - this.marginMinutes * 60_000 : Infinity);
        const waitMs = Math.min(Math.max(0, due - this.clock.now().getTime()), MAX_TIMER_MS);
        if (!(await this.clock.sleep(waitMs, until))) break;
        if (this.clock.now().getTime() < due) continue; // a long wait is slept in pieces
        try {
          current = await this.manager.renewLease(current, until);
          retryAt = undefined;
          this.logger.info({ subnet: String(current.subnet), expiration: current.expiration?.toISOString() }, 'lease renewed');
        } catch (err) {
          if (until.aborted) break;
          this.logger.error({ err: (err as Error).message }, 'Error renewing lease (trying again in 1 min)');
          retryAt = this.clock.now().getTime() + RETRY_AFTER_FAILURE_MS;
        }
      }
    } finally {
      subscription.unsubscribe();
    }
    if (revoked) throw revoked;
  }
}

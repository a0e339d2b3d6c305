import type { Clock } from '../contracts/clock.js';
import type { Lease } from '../contracts/lease.js';
import type { Logger } from '../contracts/logger.js';
import { LeaseRevokedError } from '../contracts/subnet-manager.js';
import { encodeLeaseAttrs } from '../lease/lease-attrs-json.js';
import type { LeaseRegistry, RegistryUpdate } from './registry.js';

const RETRY_AFTER_FAILURE_MS = 60_000;
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Renews {
  renewLease(lease: Lease, signal: AbortSignal): Promise<Lease>;
  reassertLease(lease: Lease, signal: AbortSignal): Promise<Lease>;
}

/**
 * Holds our lease until the signal aborts:
 * - renews it `marginMinutes` before it expires (retrying a failure after a minute, as Go flannel does);
 * - watches our key: a delete is a revocation (LeaseRevokedError: flanneld exits 1), while a store that
 *   lost our key (a re-list without it, after a wipe or a restore) or a put of other attributes makes it
 *   check the store and write our lease back, unless another node holds the subnet now (a revocation).
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
    let current = lease;
    let checkWanted = false;
    let wake = new AbortController();
    const revoke = (err: LeaseRevokedError) => {
      revoked = err;
      stop.abort();
    };
    const subscription = this.registry.watch(lease.asof ?? 0).subscribe({
      next: (update: RegistryUpdate) => {
        if (revoked) return;
        const verdict = judge(update, key, current);
        if (verdict === 'deleted') {
          this.logger.error({ subnet: String(lease.subnet) }, 'Lease has been revoked. Shutting down daemon.');
          revoke(new LeaseRevokedError(String(lease.subnet)));
        } else if (verdict === 'check') {
          checkWanted = true;
          wake.abort();
        }
      },
    });
    try {
      let retryAt: number | undefined;
      while (!until.aborted) {
        if (checkWanted) {
          checkWanted = false;
          try {
            current = await this.manager.reassertLease(current, until);
          } catch (err) {
            if (err instanceof LeaseRevokedError) revoke(err);
            else if (!until.aborted) {
              this.logger.error({ err: (err as Error).message }, 'cannot check our lease in the store (trying again in 1 min)');
              retryAt = this.clock.now().getTime() + RETRY_AFTER_FAILURE_MS;
            }
          }
          continue;
        }
        // A reservation never expires: nothing to renew, only the watch to keep.
        const due = retryAt ?? (current.expiration ? current.expiration.getTime() - this.marginMinutes * 60_000 : Infinity);
        const waitMs = Math.min(Math.max(0, due - this.clock.now().getTime()), MAX_TIMER_MS);
        wake = new AbortController();
        if (!(await this.clock.sleep(waitMs, AbortSignal.any([until, wake.signal])))) continue;
        if (this.clock.now().getTime() < due) continue; // a long wait is slept in pieces
        try {
          current = await this.manager.renewLease(current, until);
          retryAt = undefined;
          this.logger.info({ subnet: String(current.subnet), expiration: current.expiration?.toISOString() }, 'lease renewed');
        } catch (err) {
          if (err instanceof LeaseRevokedError) revoke(err);
          else if (!until.aborted) {
            this.logger.error({ err: (err as Error).message }, 'Error renewing lease (trying again in 1 min)');
            retryAt = this.clock.now().getTime() + RETRY_AFTER_FAILURE_MS;
          }
        }
      }
    } finally {
      subscription.unsubscribe();
    }
    if (revoked) throw revoked;
  }
}

/** What a store update means for our key: deleted (revoked), worth a check (lost or rewritten), or nothing. */
function judge(update: RegistryUpdate, key: string, ours: Lease): 'deleted' | 'check' | undefined {
  const value = encodeLeaseAttrs(ours.attrs);
  if (update.kind === 'reset') return update.entries.find((e) => e.key === key)?.value === value ? undefined : 'check';
  for (const c of update.changes) {
    if (c.type === 'delete' && c.key === key) return 'deleted';
    if (c.type === 'put' && c.entry.key === key && c.entry.value !== value) return 'check';
  }
  return undefined;
}

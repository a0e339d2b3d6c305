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

  run(lease: Lease, key: string, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let current = lease;
      let timer: NodeJS.Timeout | undefined;
      const finish = (err?: Error): void => {
        clearTimeout(timer);
        subscription.unsubscribe();
        signal.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve();
      };
      const onAbort = (): void => finish();

      const schedule = (delayMs: number): void => {
        clearTimeout(timer);
        timer = setTimeout(() => void renew(), Math.min(Math.max(0, delayMs), MAX_TIMER_MS));
      };
      const scheduleFromExpiration = (): void => {
        if (!current.expiration) return; // a reservation never expires
        schedule(current.expiration.getTime() - this.clock.now().getTime() - this.marginMinutes * 60_000);
      };
      const renew = async (): Promise<void> => {
        try {
          current = await this.manager.renewLease(current, signal);
          this.logger.info({ subnet: String(current.subnet), expiration: current.expiration?.toISOString() }, 'lease renewed');
          scheduleFromExpiration();
        } catch (err) {
          if (signal.aborted) return;
          this.logger.error({ err: (err as Error).message }, 'Error renewing lease (trying again in 1 min)');
          schedule(RETRY_AFTER_FAILURE_MS);
        }
      };
      const onUpdate = (update: RegistryUpdate): void => {
        const gone =
          update.kind === 'reset'
            ? !update.entries.some((e) => e.key === key)
            : update.changes.some((c) => c.type === 'delete' && c.key === key);
        if (!gone) return;
        this.logger.error({ subnet: String(current.subnet) }, 'Lease has been revoked. Shutting down daemon.');
        finish(new LeaseRevokedError(String(current.subnet)));
      };

      const subscription = this.registry.watch(lease.asof ?? 0).subscribe({ next: onUpdate });
      if (signal.aborted) return finish();
      signal.addEventListener('abort', onAbort, { once: true });
      scheduleFromExpiration();
    });
  }
}

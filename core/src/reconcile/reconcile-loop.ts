import type { Logger } from '../contracts/logger.js';

/**
 * Runs kernel work one job at a time, and coalesces reconcile requests: however many triggers arrive while
 * a reconcile runs, one more follows it. Event-driven updates and reconciles share the one queue, so they
 * never interleave their netlink batches.
 */
export class ReconcileLoop {
  private tail: Promise<void> = Promise.resolve();
  private pendingReasons: string[] = [];
  private scheduled = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly reconcile: (reasons: string[]) => Promise<void>,
    private readonly logger: Logger,
  ) {}

  /** Queues a job after everything already queued. */
  enqueue(job: () => Promise<void>): Promise<void> {
    const run = this.tail.then(job);
    this.tail = run.catch((err: unknown) => this.logger.error({ err: (err as Error).message }, 'kernel update failed'));
    return this.tail;
  }

  /** Asks for a full reconcile, now or (with delayMs) a little later. */
  trigger(reason: string, delayMs = 0): void {
    if (this.stopped) return;
    if (delayMs > 0) {
      setTimeout(() => this.trigger(reason), delayMs).unref();
      return;
    }
    this.pendingReasons.push(reason);
    if (this.scheduled) return;
    this.scheduled = true;
    void this.enqueue(async () => {
      this.scheduled = false;
      const reasons = [...new Set(this.pendingReasons.splice(0))];
      if (!this.stopped) await this.reconcile(reasons);
    });
  }

  /** Reconciles every `periodMs` until stop(). */
  startPeriodic(periodMs: number): void {
    this.timer = setInterval(() => this.trigger('periodic resync'), periodMs);
  }

  /** Stops triggers, drops reconciles that have not started, and waits for queued work to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.tail;
  }
}

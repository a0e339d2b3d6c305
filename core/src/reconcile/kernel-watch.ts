import { retry, timer, type Subscription } from 'rxjs';
import type { Logger } from '../contracts/logger.js';
import type { NetlinkHandle } from '../netlink/handle.js';
import { netlinkMonitor, type MonitorTopic, type NetlinkEvent } from '../netlink/monitor.js';
import type { ReconcileLoop } from './reconcile-loop.js';

/** Netlink events come in bursts (a device deletion removes every route): wait this long, then reconcile once. */
const SETTLE_MS = 20;

export interface KernelWatchOptions {
  topics: MonitorTopic[];
  /** Topics whose 'new' notifications are not even decoded (our own batches produce thousands). */
  deletionsOnly?: MonitorTopic[];
  /** Why an event matters to us (it becomes a reconcile reason), or undefined to ignore it. */
  relevance(ev: NetlinkEvent): string | undefined;
}

/**
 * Triggers `loop` shortly after netlink reports a change that matters. If notifications were lost
 * (ENOBUFS), what they said is unknown: it asks for a full reconcile and listens again a second later.
 */
export function reconcileOnKernelChanges(nl: NetlinkHandle, loop: ReconcileLoop, logger: Logger, o: KernelWatchOptions): Subscription {
  return netlinkMonitor(o.topics, { ...(o.deletionsOnly ? { deletionsOnly: o.deletionsOnly } : {}), ...(nl.netns ? { netns: nl.netns } : {}) })
    .pipe(
      retry({
        delay: (err: Error) => {
          logger.warn({ err: err.message }, 'netlink monitor lost events; resyncing');
          loop.trigger('monitor restarted');
          return timer(1000);
        },
      }),
    )
    .subscribe((ev) => {
      const reason = o.relevance(ev);
      if (reason) loop.trigger(reason, SETTLE_MS);
    });
}

/** Resolves when `signal` aborts (at once if it already has). */
export function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
}

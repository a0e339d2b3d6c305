import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { Logger } from '../contracts/logger.js';
import type { Netlink, OpResult } from '../contracts/netlink.js';
import type { NetlinkRequest } from '../netlink/socket/netlink-socket.js';

/** ~5 µs per operation here: a chunk holds the event loop for about 5 ms. */
export const OPS_PER_CHUNK = 1024;

/**
 * Sends requests in batches, yielding to the event loop between chunks so that thousands of routes never
 * stall timers, health checks or the lease watch. Results line up with `requests`.
 */
export async function applyBatched(nl: Netlink, requests: readonly NetlinkRequest[]): Promise<OpResult[]> {
  const results: OpResult[] = [];
  for (let i = 0; i < requests.length; i += OPS_PER_CHUNK) {
    if (i > 0) await yieldToLoop();
    results.push(...(await nl.apply(requests.slice(i, i + OPS_PER_CHUNK))));
  }
  return results;
}

/** At most this many failures are logged one by one per batch; the rest are counted. */
const LOGGED_FAILURES = 10;

/**
 * Logs the operations of a batch that failed and returns how many did. Deleting what is already gone
 * (ENOENT, ESRCH) is success for a reconciler. An operation's text is built only for the ones logged.
 */
export function logFailures(requests: readonly NetlinkRequest[], results: readonly OpResult[], logger: Logger, during: string): number {
  let failed = 0;
  results.forEach((err, i) => {
    if (!err) return;
    const op = requests[i]!.op;
    if (op.includes(' del ') && (err.code === 'ENOENT' || err.code === 'ESRCH')) return;
    if (++failed <= LOGGED_FAILURES) logger.warn({ op, err: err.message }, `netlink operation failed while ${during}`);
  });
  if (failed > LOGGED_FAILURES) logger.warn({ failed }, `more netlink operations failed while ${during}`);
  return failed;
}

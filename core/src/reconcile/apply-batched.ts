import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { Logger } from '../contracts/logger.js';
import type { Netlink, OpResult } from '../contracts/netlink.js';
import type { NetlinkRequest } from '../netlink/socket/netlink-socket.js';
import type { RequestList } from './kernel-entry.js';

/**
 * Requests built and sent between two turns of the event loop. Building one takes a few µs and the kernel
 * ~5-20 µs to carry it out (in our thread: sendmsg runs it), so a chunk holds the loop for 5-20 ms.
 */
export const OPS_PER_CHUNK = 1024;

/**
 * Sends requests in batches, yielding to the event loop between chunks so that thousands of routes never
 * stall timers, health checks or the lease watch. Results line up with `requests`. Each chunk's requests
 * are read from the list just before they are sent (see planRequests).
 */
export async function applyBatched(nl: Netlink, requests: RequestList): Promise<OpResult[]> {
  const results: OpResult[] = [];
  for (let i = 0; i < requests.length; i += OPS_PER_CHUNK) {
    if (i > 0) await yieldToLoop();
    const chunk: NetlinkRequest[] = [];
    for (let j = i; j < Math.min(i + OPS_PER_CHUNK, requests.length); j++) chunk.push(requests.at(j)!);
    const answers = await nl.apply(chunk);
    for (let j = 0; j < answers.length; j++) results.push(answers[j]);
  }
  return results;
}

/** At most this many failures are logged one by one per batch; the rest are counted. */
const LOGGED_FAILURES = 10;

/**
 * Logs the operations of a batch that failed and returns how many did. Deleting what is already gone
 * (ENOENT, ESRCH) is success for a reconciler. An operation's text is built only for the ones logged.
 */
export function logFailures(requests: RequestList, results: readonly OpResult[], logger: Logger, during: string): number {
  let failed = 0;
  results.forEach((err, i) => {
    if (!err) return;
    const op = requests.at(i)!.op;
    if (op.includes(' del ') && (err.code === 'ENOENT' || err.code === 'ESRCH')) return;
    if (++failed <= LOGGED_FAILURES) logger.warn({ op, err: err.message }, `netlink operation failed while ${during}`);
  });
  if (failed > LOGGED_FAILURES) logger.warn({ failed }, `more netlink operations failed while ${during}`);
  return failed;
}

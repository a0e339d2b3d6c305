import { setTimeout as delay } from 'node:timers/promises';
import type { Clock } from '../contracts/clock.js';

/**
 * Node's timers hold at most 2^31 - 1 ms (~24.8 days); given more, one fires after 1 ms instead. A period an
 * operator sets in seconds (-kernel-resync, -iptables-resync) can be longer, so a long wait is several.
 */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Waits `ms`; resolves false instead of waiting when `signal` aborts. */
export async function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return false;
  try {
    let left = ms;
    do {
      const step = Math.min(left, MAX_TIMER_MS);
      await delay(step, undefined, signal ? { signal } : {});
      left -= step;
    } while (left > 0);
    return true;
  } catch (err) {
    if ((err as Error).name === 'AbortError') return false;
    throw err;
  }
}

/** The real clock: wall time and Node timers. */
export const systemClock: Clock = { now: () => new Date(), sleep };

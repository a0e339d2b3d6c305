import { setTimeout as delay } from 'node:timers/promises';
import type { Clock } from '../contracts/clock.js';

/** Waits `ms`; resolves false instead of waiting when `signal` aborts. */
export async function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return false;
  try {
    await delay(ms, undefined, signal ? { signal } : {});
    return true;
  } catch (err) {
    if ((err as Error).name === 'AbortError') return false;
    throw err;
  }
}

/** The real clock: wall time and Node timers. */
export const systemClock: Clock = { now: () => new Date(), sleep };

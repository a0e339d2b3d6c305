import { defer, retry, type MonoTypeOperatorFunction } from 'rxjs';
import type { Clock } from '../contracts/clock.js';

/** Doubling delays, as flannel reconnects to etcd: 100 ms, 200 ms, ... up to a cap (5 s by default). */
export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
}

export class Backoff {
  private readonly initialMs: number;
  private readonly maxMs: number;
  private current: number;

  constructor(o: BackoffOptions = {}) {
    this.initialMs = o.initialMs ?? 100;
    this.maxMs = o.maxMs ?? 5000;
    this.current = this.initialMs;
  }

  next(): number {
    const d = this.current;
    this.current = Math.min(this.current * 2, this.maxMs);
    return d;
  }

  reset(): void {
    this.current = this.initialMs;
  }
}

export interface RetryOptions extends BackoffOptions {
  clock: Clock;
  /** Told of each failure and how long until the next attempt; logging belongs here. */
  onError?(err: unknown, delayMs: number, attempt: number): void;
}

/**
 * Calls `attempt` until it succeeds, waiting a doubling delay after each failure. Resolves undefined if
 * `signal` aborts first; an attempt gets the signal so it can stop half-way.
 */
export async function retryWithBackoff<T>(attempt: (signal: AbortSignal) => Promise<T>, signal: AbortSignal, o: RetryOptions): Promise<T | undefined> {
  const backoff = new Backoff(o);
  for (let n = 1; !signal.aborted; n++) {
    try {
      return await attempt(signal);
    } catch (err) {
      if (signal.aborted) return undefined;
      const ms = backoff.next();
      o.onError?.(err, ms, n);
      if (!(await o.clock.sleep(ms, signal))) return undefined;
    }
  }
  return undefined;
}

/**
 * The operator form, for streams (a netlink monitor, a store watch): after an error it resubscribes with
 * the same doubling delays; a value received resets them.
 */
export function retryBackoff<T>(o: RetryOptions): MonoTypeOperatorFunction<T> {
  const backoff = new Backoff(o);
  return (source) =>
    defer(() => source).pipe(
      retry({
        resetOnSuccess: true,
        delay: (err: unknown, count: number) => {
          if (count === 1) backoff.reset();
          const ms = backoff.next();
          o.onError?.(err, ms, count);
          return defer(() => o.clock.sleep(ms));
        },
      }),
    );
}

/**
 * Runs `work` every `periodMs` until `signal` aborts. Runs never overlap: the next period starts when
 * the previous run has finished. A failed run is reported and the next one still happens.
 */
export async function every(periodMs: number, signal: AbortSignal, clock: Clock, work: () => Promise<void>, onError: (err: unknown) => void): Promise<void> {
  while (await clock.sleep(periodMs, signal)) {
    try {
      await work();
    } catch (err) {
      onError(err);
    }
  }
}

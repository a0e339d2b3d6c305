/**
 * Time, injected so that lease expiry, renewal, retries and resync periods can be tested without waiting.
 * `@flannel-ts/core/testing` has a FakeClock that tests advance by hand.
 */
export interface Clock {
  now(): Date;
  /** Resolves true after `ms`, or false as soon as `signal` aborts (at once if it already has). */
  sleep(ms: number, signal?: AbortSignal): Promise<boolean>;
}
export const Clock = Symbol.for('flannel-ts.Clock');

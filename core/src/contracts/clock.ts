/** Wall-clock time, injected so that lease expiry and renewal can be tested without waiting. */
export interface Clock {
  now(): Date;
}
export const Clock = Symbol.for('flannel-ts.Clock');

export const systemClock: Clock = { now: () => new Date() };

import type { Clock } from '../contracts/clock.js';

interface Sleeper {
  at: number;
  seq: number;
  resolve(done: boolean): void;
}

/** Lets the callbacks of settled promises (and setImmediate yields) run before the clock moves on. */
export async function settle(turns = 10): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
}

/**
 * A clock that moves only when the test says so. `advance(ms)` wakes the sleepers that fall due in order,
 * letting each one's continuation run before the next, as real time would.
 */
export class FakeClock implements Clock {
  private t: number;
  private seq = 0;
  private sleepers: Sleeper[] = [];

  constructor(start: Date | number = Date.UTC(2026, 0, 1)) {
    this.t = typeof start === 'number' ? start : start.getTime();
  }

  now(): Date {
    return new Date(this.t);
  }

  sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
    if (signal?.aborted) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const sleeper: Sleeper = { at: this.t + Math.max(0, ms), seq: this.seq++, resolve };
      this.sleepers.push(sleeper);
      signal?.addEventListener(
        'abort',
        () => {
          this.sleepers = this.sleepers.filter((s) => s !== sleeper);
          resolve(false);
        },
        { once: true },
      );
    });
  }

  /** How many sleeps are waiting. */
  get waiting(): number {
    return this.sleepers.length;
  }

  async advance(ms: number): Promise<void> {
    const target = this.t + ms;
    await settle();
    for (;;) {
      const next = this.sleepers.filter((s) => s.at <= target).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!next) break;
      this.t = next.at;
      this.sleepers = this.sleepers.filter((s) => s !== next);
      next.resolve(true);
      await settle();
    }
    this.t = target;
    await settle();
  }
}

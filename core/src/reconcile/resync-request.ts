import type { Clock } from '../contracts/clock.js';

/**
 * When the next full resync is due and why. However many requests arrive, at most one resync is
 * pending; it starts no sooner than `settleMs` after the first request (a device deletion reports every
 * route: one resync covers them) and no sooner than `minGapMs` after the previous resync ended.
 */
export class ResyncRequest {
  private reasons = new Set<string>();
  private dueAt = 0;
  private lastEnd = -Infinity;

  constructor(
    private readonly clock: Clock,
    private readonly settleMs: number,
    private readonly minGapMs: number,
  ) {}

  get pending(): boolean {
    return this.reasons.size > 0;
  }

  add(reason: string, delayMs = this.settleMs): void {
    const now = this.clock.now().getTime();
    if (this.reasons.size === 0) this.dueAt = Math.max(now + delayMs, this.lastEnd + this.minGapMs);
    this.reasons.add(reason);
  }

  /** Milliseconds until the pending resync is due (0 or less: now). */
  waitMs(): number {
    return this.dueAt - this.clock.now().getTime();
  }

  /** Takes the reasons of the resync that starts now. */
  take(): string[] {
    const reasons = [...this.reasons];
    this.reasons.clear();
    return reasons;
  }

  finished(): void {
    this.lastEnd = this.clock.now().getTime();
  }
}

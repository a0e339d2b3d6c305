import { createHistogram, monitorEventLoopDelay, performance, type EventLoopUtilization, type RecordableHistogram } from 'node:perf_hooks';

/** The fine sampler's period while there is work: it sees every stall longer than this. */
const FINE_MS = 10;
/** The coarse sampler's period; it also decides, from the loop's utilisation, whether work is going on. */
const COARSE_MS = 1000;
/** A loop busier than this over one coarse period has work: the fine sampler runs. */
const BUSY_UTILISATION = 0.02;
/** The fine sampler stops this long after the last sign of work. */
const LINGER_MS = 10_000;

export interface LoopDelay {
  /**
   * Seconds, over the samples since the last reset (0 when there were none). As with Node's own monitor, a
   * sample is the interval between two 10 ms turns, so an idle loop reads ~0.010.
   */
  min: number;
  max: number;
  mean: number;
  stddev: number;
  p50: number;
  p90: number;
  p99: number;
}

/**
 * The event loop's delay, measured while flanneld has something to do. A sampler that wakes every 10 ms
 * costs ~380 ms of CPU a minute on its own, twice what an idle flanneld should use in all; so it runs only
 * while there is work: from `busy()` (lease events, an engine pass, which call it before they start) or
 * from a coarse 1 s sampler seeing the loop more than 2% busy, until 10 s after the last of these.
 * While it is paused the coarse sampler's own lateness is the measure: a stall then is seen if it lasts
 * over a second or happens to cover the sampler's turn. There is no work to stall the loop then, except
 * timers that call `busy()` first.
 */
export class LoopDelayMonitor {
  private readonly fine = monitorEventLoopDelay({ resolution: FINE_MS });
  private readonly coarse: RecordableHistogram = createHistogram();
  private fineRunning = false;
  private lastWork = -Infinity;
  private utilisation: EventLoopUtilization = performance.eventLoopUtilization();
  private coarseDue = performance.now() + COARSE_MS;
  private readonly timer = setInterval(() => this.tick(), COARSE_MS).unref();

  /** Work is about to start: sample finely from now on. */
  busy(): void {
    this.lastWork = performance.now();
    if (this.fineRunning) return;
    this.fine.enable();
    this.fineRunning = true;
  }

  get sampling(): 'fine' | 'coarse' {
    return this.fineRunning ? 'fine' : 'coarse';
  }

  /**
   * The delays since the last reset. The extremes and the mean cover both samplers; the spread and the
   * percentiles are the fine sampler's, when it ran (the coarse one's few samples would only blur them).
   */
  read(): LoopDelay {
    const { fine, coarse } = this;
    const main = fine.count > 0 ? fine : coarse;
    if (main.count === 0) return { min: 0, max: 0, mean: 0, stddev: 0, p50: 0, p90: 0, p99: 0 };
    const both = [fine, coarse].filter((h) => h.count > 0);
    const count = fine.count + coarse.count;
    const s = (ns: number) => ns / 1e9;
    return {
      min: s(Math.min(...both.map((h) => h.min))),
      max: s(Math.max(...both.map((h) => h.max))),
      mean: s(both.reduce((sum, h) => sum + h.mean * h.count, 0) / count),
      stddev: s(main.stddev),
      p50: s(main.percentile(50)),
      p90: s(main.percentile(90)),
      p99: s(main.percentile(99)),
    };
  }

  reset(): void {
    this.fine.reset();
    this.coarse.reset();
  }

  stop(): void {
    clearInterval(this.timer);
    this.fine.disable();
    this.fineRunning = false;
  }

  private tick(): void {
    const now = performance.now();
    // Recorded as the fine sampler would have seen it: Node's histogram holds whole intervals, period included.
    if (!this.fineRunning) this.coarse.record(Math.max(1, Math.round((now - this.coarseDue + FINE_MS) * 1e6)));
    this.coarseDue = now + COARSE_MS;
    const busy = performance.eventLoopUtilization(this.utilisation).utilization > BUSY_UTILISATION;
    this.utilisation = performance.eventLoopUtilization();
    if (busy) this.busy();
    else if (this.fineRunning && now - this.lastWork > LINGER_MS) {
      this.fine.disable();
      this.fineRunning = false;
    }
  }
}

import { createHistogram, monitorEventLoopDelay, performance, type EventLoopUtilization, type RecordableHistogram } from 'node:perf_hooks';

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

export interface LoopDelayTiming {
  /** The fine sampler's period while there is work: it sees every stall longer than this. */
  fineMs: number;
  /** The coarse sampler's period; it also decides, from the loop's utilisation, whether work is going on. */
  coarseMs: number;
  /** A loop busier than this over one coarse period has work: the fine sampler runs. */
  busyUtilisation: number;
  /** The fine sampler stops this long after the last sign of work. */
  lingerMs: number;
}

/**
 * lingerMs was 10 s: the once-a-minute full comparison then kept the fine sampler on for a sixth of every
 * minute, ~70 ms of an idle flanneld's CPU here (the sampler costs ~400 ms a minute on this machine). Two
 * coarse periods still bridge the gaps between the passes of a burst of lease events.
 */
const DEFAULT_LOOP_DELAY_TIMING: LoopDelayTiming = { fineMs: 10, coarseMs: 1000, busyUtilisation: 0.02, lingerMs: 2000 };

/** A histogram's figures, in nanoseconds here, kept when the histogram itself is reset. */
type Figures = LoopDelay & { count: number };

/**
 * The event loop's delay, measured while flanneld has something to do. A sampler that wakes every 10 ms
 * costs ~380 ms of CPU a minute on its own, twice what an idle flanneld should use in all; so it runs only
 * while there is work: from `busy()` (lease events, an engine pass, which call it before they start) or
 * from a coarse 1 s sampler seeing the loop more than 2% busy, until 2 s after the last of these.
 * While it is paused the coarse sampler's own lateness is the measure: a stall then is seen if it lasts
 * over a second or happens to cover the sampler's turn. There is no work to stall the loop then, except
 * timers that call `busy()` first.
 */
export class LoopDelayMonitor {
  private readonly fine: ReturnType<typeof monitorEventLoopDelay>;
  private readonly coarse: RecordableHistogram = createHistogram();
  /** The fine sampler's figures from its earlier runs since the last reset (see pauseFine). */
  private earlier: Figures | undefined;
  private fineRunning = false;
  private lastWork = -Infinity;
  private utilisation: EventLoopUtilization = performance.eventLoopUtilization();
  private coarseDue: number;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly timing: LoopDelayTiming = DEFAULT_LOOP_DELAY_TIMING) {
    this.fine = monitorEventLoopDelay({ resolution: timing.fineMs });
    this.coarseDue = performance.now() + timing.coarseMs;
    this.timer = setInterval(() => this.tick(), timing.coarseMs).unref();
  }

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
   * The delays since the last reset. The extremes and the mean cover every sample; the spread and the
   * percentiles are those of the run of samples with the most of them (the fine sampler's, when it ran).
   */
  read(): LoopDelay {
    const runs = [this.earlier, figures(this.fine), figures(this.coarse)].filter((f): f is Figures => f !== undefined && f.count > 0);
    if (runs.length === 0) return { min: 0, max: 0, mean: 0, stddev: 0, p50: 0, p90: 0, p99: 0 };
    const all = runs.reduce(merge);
    const s = (ns: number) => ns / 1e9;
    return { min: s(all.min), max: s(all.max), mean: s(all.mean), stddev: s(all.stddev), p50: s(all.p50), p90: s(all.p90), p99: s(all.p99) };
  }

  reset(): void {
    this.earlier = undefined;
    this.fine.reset();
    this.coarse.reset();
  }

  stop(): void {
    clearInterval(this.timer);
    this.pauseFine();
  }

  private tick(): void {
    const now = performance.now();
    // Recorded as the fine sampler would have seen it: Node's histogram holds whole intervals, period included.
    if (!this.fineRunning) this.coarse.record(Math.max(1, Math.round((now - this.coarseDue + this.timing.fineMs) * 1e6)));
    this.coarseDue = now + this.timing.coarseMs;
    const busy = performance.eventLoopUtilization(this.utilisation).utilization > this.timing.busyUtilisation;
    this.utilisation = performance.eventLoopUtilization();
    if (busy) this.busy();
    else if (this.fineRunning && now - this.lastWork > this.timing.lingerMs) this.pauseFine();
  }

  /**
   * Node's sampler remembers when it last sampled, across disable() and enable(): enabled again, its first
   * sample would span the whole pause and read as a stall. Only reset() forgets it, so the figures so far
   * are kept aside first.
   */
  private pauseFine(): void {
    if (!this.fineRunning) return;
    this.fine.disable();
    this.fineRunning = false;
    const f = figures(this.fine);
    if (f) this.earlier = this.earlier ? merge(this.earlier, f) : f;
    this.fine.reset();
  }
}

function figures(h: { count: number; min: number; max: number; mean: number; stddev: number; percentile(p: number): number }): Figures | undefined {
  if (h.count === 0) return undefined;
  return { count: h.count, min: h.min, max: h.max, mean: h.mean, stddev: h.stddev, p50: h.percentile(50), p90: h.percentile(90), p99: h.percentile(99) };
}

/** Exact extremes, count and mean; the spread and percentiles of the larger run. */
function merge(a: Figures, b: Figures): Figures {
  const big = a.count >= b.count ? a : b;
  const count = a.count + b.count;
  return {
    ...big,
    count,
    min: Math.min(a.min, b.min),
    max: Math.max(a.max, b.max),
    mean: (a.mean * a.count + b.mean * b.count) / count,
  };
}

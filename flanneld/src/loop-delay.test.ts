import { LoopDelayMonitor } from './loop-delay.js';

const block = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until);
};
const turn = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('LoopDelayMonitor', () => {
  let monitor: LoopDelayMonitor;
  beforeEach(() => (monitor = new LoopDelayMonitor()));
  afterEach(() => monitor.stop());

  it('reads zeros before any sample, and the fine sampler stays off while nothing asked for it', () => {
    expect(monitor.sampling).toBe('coarse');
    expect(monitor.read()).toEqual({ min: 0, max: 0, mean: 0, stddev: 0, p50: 0, p90: 0, p99: 0 });
  });

  it('once told of work, sees a stall of the loop, and forgets it at reset', async () => {
    monitor.busy();
    expect(monitor.sampling).toBe('fine');
    await turn(30);
    block(80);
    await turn(30);
    const d = monitor.read();
    // The interval that held the stall is at least as long as the stall.
    expect(d.max).toBeGreaterThanOrEqual(0.08);
    expect(d.min).toBeGreaterThan(0);
    monitor.reset();
    expect(monitor.read().max).toBe(0);
  });

  it('turns the fine sampler on by itself when the loop gets busy, and records the coarse sampler meanwhile', async () => {
    // Busy for most of a coarse period: its check finds the loop over 2% utilised.
    block(1200);
    await turn(100);
    expect(monitor.sampling).toBe('fine');
    // The coarse sampler's turn came during the block, so its lateness is in the figures.
    expect(monitor.read().max).toBeGreaterThanOrEqual(0.1);
  });

  it('reads no stall out of a pause of the fine sampler, and keeps what it measured before the pause', async () => {
    // The fine sampler stops as soon as it is idle, and the loop never counts as busy by itself.
    const m = new LoopDelayMonitor({ fineMs: 10, coarseMs: 50, busyUtilisation: 2, lingerMs: 0 });
    try {
      m.busy();
      await turn(20);
      block(60);
      await turn(20);
      for (let i = 0; i < 100 && m.sampling === 'fine'; i++) await turn(20);
      expect(m.sampling).toBe('coarse');
      expect(m.read().max).toBeGreaterThanOrEqual(0.06);
      await turn(1500); // paused: Node's sampler still remembers its last sample from before
      m.busy();
      await turn(50);
      // Its first sample after the pause would have spanned the 1.5 s; the stall from before is still there.
      const d = m.read();
      expect(d.max).toBeLessThan(1);
      expect(d.max).toBeGreaterThanOrEqual(0.06);
    } finally {
      m.stop();
    }
  });
});

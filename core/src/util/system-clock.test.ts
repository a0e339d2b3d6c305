import { sleep } from './system-clock.js';

describe('sleep', () => {
  it('waits for a period longer than a Node timer can hold, instead of firing at once', async () => {
    const ac = new AbortController();
    let woke: boolean | undefined;
    const waiting = sleep(2 ** 32, ac.signal).then((r) => (woke = r));
    // A single timer of 2^32 ms fires after 1 ms (TimeoutOverflowWarning); this one must still be waiting.
    await sleep(50);
    expect(woke).toBeUndefined();
    ac.abort();
    await waiting;
    expect(woke).toBe(false);
  });

  it('resolves true after a short wait, and false at once when already aborted', async () => {
    expect(await sleep(1)).toBe(true);
    expect(await sleep(1000, AbortSignal.abort())).toBe(false);
  });
});

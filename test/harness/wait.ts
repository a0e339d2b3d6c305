/**
 * Deadlines for the integration suites. They bound how long a broken run hangs, and are never claims about
 * speed (those belong in `npm run bench`): each is many times the typical value, so that the suites pass on
 * a loaded machine (`npm run stress-test`: stress-ng on every core beside `npm test`).
 */
export const DEADLINE = {
  /** A process we start (etcd, flanneld) saying it is ready: about a second on an idle 2-core machine. */
  readyMs: 60_000,
  /** The kernel or a store catching up with one change: milliseconds to a second (a 1 s resync period). */
  convergeMs: 30_000,
  /** A jest test that starts processes or builds namespaces: a few seconds when idle. */
  testMs: 120_000,
  /** A jest beforeAll that builds a topology and starts flanneld on every node. */
  setupMs: 180_000,
} as const;

/** Polls `check` until it returns a truthy value or `timeoutMs` passes; returns the last value. */
export async function waitFor<T>(check: () => T | Promise<T>, timeoutMs: number, intervalMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = await check();
  while (!last && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, intervalMs));
    last = await check();
  }
  return last;
}

import { setTimeout as delay } from 'node:timers/promises';

/** Doubling delays between retries: 100 ms, 200 ms, ... capped (5 s by default), as flannel reconnects to etcd. */
export class Backoff {
  private current: number;

  constructor(
    private readonly initialMs = 100,
    private readonly maxMs = 5000,
  ) {
    this.current = initialMs;
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

/** Waits `ms`; resolves false instead of waiting when `signal` aborts. */
export async function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return false;
  try {
    await delay(ms, undefined, { signal });
    return true;
  } catch (err) {
    if ((err as Error).name === 'AbortError') return false;
    throw err;
  }
}

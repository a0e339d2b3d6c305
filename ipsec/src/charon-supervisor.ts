import type { Clock, Logger } from '@flannel-ts/core';
import type { CharonInstance, CharonLauncher } from './charon.js';
import type { Connections } from './connections.js';
import type { IpsecSecret } from './secret.js';

/** Between failed attempts to start charon again: from this, doubling, to MAX. */
const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 5000;

/**
 * Keeps one charon running for as long as the network runs. Go flannel starts charon once and never notices
 * its death; here its VICI connection closing (or the process exiting) is noticed at once, and a new charon
 * is started and given our PSK and every peer's PSK and connection again. On shutdown charon gets SIGTERM
 * and is waited for, as in Go.
 */
export class CharonSupervisor {
  private instance: CharonInstance | undefined;
  private restarts = 0;
  private lastRestart: { at: string; why: string; ms: number } | undefined;

  constructor(
    private readonly launch: CharonLauncher,
    private readonly conns: Connections,
    private readonly deps: { logger: Logger; clock: Clock; psk: IpsecSecret },
  ) {}

  /** Starts charon and loads our PSK; a failure here fails registerNetwork. */
  async start(signal: AbortSignal): Promise<void> {
    const instance = await this.launch({ logger: this.deps.logger, psk: this.deps.psk, signal });
    this.instance = instance;
    await this.conns.attach(instance.session, signal);
  }

  /** What `flannelctl status` shows. */
  details(): string {
    const pid = this.instance?.pid ?? '-';
    if (this.restarts === 0) return `charon pid ${pid}; never restarted`;
    const r = this.lastRestart!;
    return `charon pid ${pid}; restarted ${this.restarts} time(s), last at ${r.at} (${r.why}; back in ${r.ms} ms)`;
  }

  /** Watches charon until `signal` aborts, restarting it when it goes; then stops it. */
  async run(signal: AbortSignal): Promise<void> {
    const { logger, clock } = this.deps;
    const aborted = new Promise<string>((resolve) => {
      if (signal.aborted) resolve('stopping');
      else signal.addEventListener('abort', () => resolve('stopping'), { once: true });
    });
    try {
      while (!signal.aborted) {
        const current = this.instance!;
        const why = await Promise.race([
          current.session.closed.then(() => 'its VICI connection closed'),
          current.exited.then((how) => `charon ${how}`),
          aborted,
        ]);
        if (signal.aborted) break;
        const since = performance.now();
        this.conns.detach();
        current.session.close();
        await current.stop(1000).catch(() => undefined);
        logger.warn({ why }, 'charon is gone; starting it again and loading every PSK and connection');
        let wait = FIRST_RETRY_MS;
        while (!signal.aborted) {
          try {
            await this.start(signal);
            break;
          } catch (err) {
            logger.error({ err: this.deps.psk.redact((err as Error).message), retryMs: wait }, 'cannot start charon again; retrying');
            if (!(await clock.sleep(wait, signal))) break;
            wait = Math.min(wait * 2, MAX_RETRY_MS);
          }
        }
        if (signal.aborted) break;
        this.restarts++;
        this.lastRestart = { at: clock.now().toISOString(), why, ms: Math.round(performance.now() - since) };
        logger.info({ restarts: this.restarts, ms: this.lastRestart.ms, connections: this.conns.names().length }, 'charon is back');
      }
    } finally {
      this.conns.detach();
      const last = this.instance;
      this.instance = undefined;
      if (last) {
        last.session.close();
        await last.stop().catch(() => undefined);
      }
    }
  }
}

import { watch as watchFile, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Observable, Subject } from 'rxjs';
import type { Clock } from '../../contracts/clock.js';
import { systemClock } from '../../util/system-clock.js';
import type { Logger } from '../../contracts/logger.js';
import { UserError } from '../../errors/user-error.js';
import type { LeaseRegistry, RegistryChange, RegistryUpdate, StoredSubnet } from '../registry.js';
import { LeaseLog } from './lease-log.js';

export { DEFAULT_EMBEDDED_STORE } from '../store-defaults.js';
/** inotify tells us about appends at once; the poll is a fallback for filesystems where it does not. */
const POLL_MS = 1000;

/**
 * The embedded store (--embedded-subnet-mgr): leases in a log file that every flanneld on this host shares,
 * with the network config read from --net-config-path. No server to run; see LeaseLog for why it is safe.
 */
export class EmbeddedRegistry implements LeaseRegistry {
  readonly description = 'Embedded store';
  private readonly log: LeaseLog;
  private readonly changes = new Subject<{ revision: number; change: RegistryChange }[]>();
  private watchers = 0;
  private fsWatcher: FSWatcher | undefined;
  private poll: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;

  constructor(
    storePath: string,
    private readonly configPath: string,
    private readonly logger: Logger,
    private readonly clock: Clock = systemClock,
  ) {
    try {
      this.log = new LeaseLog(storePath);
    } catch (err) {
      throw new UserError(
        '--embedded-store-path',
        `cannot open ${storePath}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        'give a writable file path',
      );
    }
  }

  async getNetworkConfig(): Promise<string> {
    try {
      return await readFile(this.configPath, 'utf8');
    } catch (err) {
      throw new UserError(
        '--net-config-path',
        `cannot read ${this.configPath}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        'the embedded store takes the network config (net-conf.json) from this file; write it there',
      );
    }
  }

  async list(): Promise<{ entries: StoredSubnet[]; revision: number }> {
    this.sync();
    return { entries: this.log.live(this.now()), revision: this.log.revision };
  }

  async create(key: string, value: string, ttlSeconds: number): Promise<StoredSubnet | undefined> {
    const id = LeaseLog.newId();
    const at = this.now();
    this.log.append({ op: 'create', key, value, exp: ttlSeconds > 0 ? at + ttlSeconds * 1000 : null, at, id });
    this.sync();
    const entry = this.log.get(key);
    return entry?.id === id ? entry : undefined;
  }

  async update(key: string, value: string, ttlSeconds: number): Promise<StoredSubnet> {
    const id = LeaseLog.newId();
    const at = this.now();
    this.log.append({ op: 'put', key, value, exp: ttlSeconds > 0 ? at + ttlSeconds * 1000 : null, at, id });
    this.sync();
    return this.log.get(key)!;
  }

  async updateIf(key: string, expected: string, value: string, ttlSeconds: number): Promise<StoredSubnet | undefined> {
    this.sync();
    const current = this.log.get(key);
    if (!current || current.value !== expected) return undefined;
    const id = LeaseLog.newId();
    const at = this.now();
    this.log.append({ op: 'replace', key, value, exp: ttlSeconds > 0 ? at + ttlSeconds * 1000 : null, at, id, prev: current.id });
    this.sync();
    const entry = this.log.get(key);
    return entry?.id === id ? entry : undefined;
  }

  async get(key: string): Promise<StoredSubnet | undefined> {
    this.sync();
    return this.log.get(key);
  }

  async delete(key: string): Promise<void> {
    this.log.append({ op: 'delete', key, at: this.now(), id: LeaseLog.newId() });
    this.sync();
  }

  watch(revision: number): Observable<RegistryUpdate> {
    return new Observable<RegistryUpdate>((subscriber) => {
      const emit = (batch: { revision: number; change: RegistryChange }[]): void => {
        const fresh = batch.filter((b) => b.revision > revision);
        if (!fresh.length) return;
        revision = fresh[fresh.length - 1]!.revision;
        subscriber.next({ kind: 'changes', changes: fresh.map((b) => b.change), revision });
      };
      const sub = this.changes.subscribe(emit);
      this.startWatching();
      this.sync();
      emit(this.log.history);
      return () => {
        sub.unsubscribe();
        this.stopWatching();
      };
    });
  }

  async close(): Promise<void> {
    this.stopWatching(true);
    this.changes.complete();
    this.log.close();
  }

  private now(): number {
    return this.clock.now().getTime();
  }

  /** Applies what is new in the file, tells watchers, and writes expire records for lapsed TTLs. */
  private sync(): void {
    for (let round = 0; round < 2; round++) {
      const fresh = this.log.refresh();
      if (fresh.length) this.changes.next(fresh);
      if (this.watchers === 0) return;
      const { expired, next } = this.log.expiry(this.now());
      clearTimeout(this.expiryTimer);
      if (next !== undefined) this.expiryTimer = setTimeout(() => this.sync(), Math.min(next - this.now() + 10, 2 ** 31 - 1));
      if (!expired.length) return;
      for (const { key, id } of expired) {
        this.logger.info({ key }, 'lease expired; removing it from the embedded store');
        this.log.append({ op: 'expire', key, at: this.now(), id });
      }
    }
  }

  private startWatching(): void {
    if (this.watchers++ > 0) return;
    this.fsWatcher = watchFile(this.log.path, () => this.sync());
    this.fsWatcher.on('error', (err) => this.logger.warn({ err: err.message }, 'cannot watch the embedded store; polling it'));
    this.poll = setInterval(() => this.sync(), POLL_MS);
  }

  private stopWatching(all = false): void {
    if (!all && --this.watchers > 0) return;
    this.watchers = 0;
    this.fsWatcher?.close();
    clearInterval(this.poll);
    clearTimeout(this.expiryTimer);
  }
}

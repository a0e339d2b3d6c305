import { watch as watchFile, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { Observable, Subject } from 'rxjs';
import type { Clock } from '../../contracts/clock.js';
import { systemClock } from '../../util/system-clock.js';
import type { Logger } from '../../contracts/logger.js';
import { isUserError, UserError } from '../../errors/user-error.js';
import type { LeaseRegistry, RegistryChange, RegistryUpdate, StoredSubnet } from '../registry.js';
import { LeaseLog, type LeaseLogOptions, type LogProblem } from './lease-log.js';

export { DEFAULT_EMBEDDED_STORE } from '../store-defaults.js';
/** inotify tells us about appends at once; the poll is a fallback for filesystems where it does not. */
const POLL_MS = 1000;

type LogUpdate = { kind: 'changes'; batch: { revision: number; change: RegistryChange }[] } | { kind: 'reset' };

/**
 * The embedded store (--embedded-subnet-mgr): leases in a log file that every flanneld on this host shares,
 * with the network config read from --net-config-path. No server to run; see LeaseLog for why it is safe.
 *
 * While the log holds a corrupt record, creates and unconditional puts (a new lease, or taking over the one
 * with our public IP) are refused with a UserError that names the file, the line and the repair: the record
 * may have given a subnet to a node that still holds it. Renewals (compare-and-swap on our own entry),
 * deletes and expiries go on, so running nodes keep their leases.
 */
export class EmbeddedRegistry implements LeaseRegistry {
  readonly description = 'Embedded store';
  private readonly log: LeaseLog;
  private readonly changes = new Subject<LogUpdate>();
  private watchers = 0;
  private fsWatcher: FSWatcher | undefined;
  private poll: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private reportedUnsafe: string | undefined;

  constructor(
    storePath: string,
    private readonly configPath: string,
    private readonly logger: Logger,
    private readonly clock: Clock = systemClock,
    options: Pick<LeaseLogOptions, 'uid' | 'write'> = {},
  ) {
    try {
      this.log = new LeaseLog(storePath, { ...options, onProblem: (p) => this.report(p) });
    } catch (err) {
      if (isUserError(err)) throw err;
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
    this.mayTake();
    const id = LeaseLog.newId();
    const at = this.now();
    this.log.append({ op: 'create', key, value, exp: ttlSeconds > 0 ? at + ttlSeconds * 1000 : null, at, id });
    this.sync();
    const entry = this.log.get(key);
    return entry?.id === id ? entry : undefined;
  }

  async update(key: string, value: string, ttlSeconds: number): Promise<StoredSubnet> {
    this.mayTake();
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
    this.sync();
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
      const reset = (): void => {
        revision = this.log.revision;
        subscriber.next({ kind: 'reset', entries: this.log.live(this.now()), revision });
      };
      const sub = this.changes.subscribe((u) => (u.kind === 'reset' ? reset() : emit(u.batch)));
      // What this process has applied already, in order, before what a sync finds: the other way round, the
      // sync's newer changes would move `revision` past older ones this watcher has not seen yet. A watcher
      // from before the file was last read from scratch cannot be caught up change by change.
      if (revision < this.log.resetAt) reset();
      else emit(this.log.history);
      this.startWatching();
      this.sync();
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

  /**
   * Before a write that takes a subnet: the whole file is checked against what we read (bytes rewritten
   * under us mean our view may be wrong), and a corrupt record, or a file we cannot trust, refuses it.
   */
  private mayTake(): void {
    this.sync(true);
    if (this.log.unsafe) throw this.log.unsafe;
    const problem = this.log.integrityProblem();
    if (!problem) return;
    const { path } = this.log;
    throw new UserError(
      '--embedded-store-path',
      `${path} holds a corrupt record at line ${problem.line} (byte ${problem.offset}: ${problem.reason}); it may have given a subnet to a node that still holds it, so no lease is created or taken over until it is repaired`,
      `stop and look: delete that line (sed -i '${problem.line}d' ${path}) or the whole file; every running flanneld then reads the file again and writes back a lease of its own that went missing`,
    );
  }

  private report(p: LogProblem): void {
    const fields = { file: this.log?.path, line: p.line, offset: p.offset, reason: p.reason };
    if (p.kind === 'torn') this.logger.warn(fields, 'skipping a record of the embedded store cut short by an interrupted write');
    else this.logger.error(fields, 'corrupt record in the embedded store: no lease will be created or taken over until it is repaired');
  }

  /** Applies what is new in the file, tells watchers, and writes expire records for lapsed TTLs. */
  private sync(verify = false): void {
    for (let round = 0; round < 2; round++) {
      let result;
      try {
        result = this.log.refresh({ verify: verify && round === 0 });
      } catch (err) {
        this.logger.error({ file: this.log.path, err: (err as Error).message }, 'cannot read the embedded store');
        return;
      }
      this.noteUnsafe();
      if (result.reset) {
        this.logger.warn({ file: this.log.path, reason: result.reset }, 'the embedded store file changed under us; read it again from the start');
        this.changes.next({ kind: 'reset' });
      } else if (result.changes.length) {
        this.changes.next({ kind: 'changes', batch: result.changes });
      }
      if (this.watchers === 0) return;
      const { expired, next } = this.log.expiry(this.now());
      clearTimeout(this.expiryTimer);
      if (next !== undefined) this.expiryTimer = setTimeout(() => this.sync(), Math.min(next - this.now() + 10, 2 ** 31 - 1));
      if (!expired.length) return;
      try {
        for (const { key, id } of expired) {
          this.logger.info({ key }, 'lease expired; removing it from the embedded store');
          this.log.append({ op: 'expire', key, at: this.now(), id });
        }
      } catch (err) {
        this.logger.error({ err: (err as Error).message }, 'cannot record an expired lease; trying again at the next change');
        return;
      }
    }
  }

  private noteUnsafe(): void {
    const message = this.log.unsafe?.message;
    if (message === this.reportedUnsafe) return;
    this.reportedUnsafe = message;
    if (message) this.logger.error({ file: this.log.path, err: message }, 'the embedded store file cannot be trusted any more; writing nothing to it');
    else this.logger.info({ file: this.log.path }, 'the embedded store file can be used again');
  }

  private startWatching(): void {
    if (this.watchers++ > 0) return;
    // The folder, not the file: a file replaced (an editor, sed -i) is a new inode a watch on the old one misses.
    const name = basename(this.log.path);
    this.fsWatcher = watchFile(dirname(this.log.path), (_event, file) => {
      if (file === null || file === name) this.sync();
    });
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

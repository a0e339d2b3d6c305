import { concat, defer, filter, from, map, merge, Subject, type Observable } from 'rxjs';
import type { Clock } from '../contracts/clock.js';
import { systemClock } from '../util/system-clock.js';
import { UserError } from '../errors/user-error.js';
import type { LeaseRegistry, RegistryChange, RegistryUpdate, StoredSubnet } from '../subnet/registry.js';

/** A LeaseRegistry in memory, for unit tests of the lease policy. Tests can make `create` lose races. */
export class InMemoryLeaseRegistry implements LeaseRegistry {
  readonly description = 'In-memory registry';
  readonly entries = new Map<string, StoredSubnet>();
  /** Keys for which the next create behaves as if another node got there first. */
  readonly loseRaceFor = new Set<string>();
  private revision = 0;
  private readonly changes = new Subject<{ change: RegistryChange; revision: number }>();
  private readonly resets = new Subject<RegistryUpdate>();
  /** Every change so far: a watch from an old revision replays what came after it, as etcd does. */
  private readonly history: { change: RegistryChange; revision: number }[] = [];

  constructor(
    public configText: string | undefined,
    private readonly clock: Clock = systemClock,
  ) {}

  async getNetworkConfig(): Promise<string> {
    if (this.configText === undefined) throw new UserError('config', 'no network config in the store', 'write one');
    return this.configText;
  }

  async list(): Promise<{ entries: StoredSubnet[]; revision: number }> {
    return { entries: [...this.entries.values()], revision: this.revision };
  }

  async create(key: string, value: string, ttlSeconds: number): Promise<StoredSubnet | undefined> {
    if (this.loseRaceFor.delete(key)) {
      this.put(key, '{"PublicIP":"198.51.100.250","PublicIPv6":null}', ttlSeconds);
      return undefined;
    }
    if (this.entries.has(key)) return undefined;
    return this.put(key, value, ttlSeconds);
  }

  async update(key: string, value: string, ttlSeconds: number): Promise<StoredSubnet> {
    return this.put(key, value, ttlSeconds);
  }

  async updateIf(key: string, expected: string, value: string, ttlSeconds: number): Promise<StoredSubnet | undefined> {
    return this.entries.get(key)?.value === expected ? this.put(key, value, ttlSeconds) : undefined;
  }

  async get(key: string): Promise<StoredSubnet | undefined> {
    return this.entries.get(key);
  }

  /** A store restored from an old backup, or wiped: everything is replaced and watchers are told to re-list. */
  restore(entries: StoredSubnet[]): void {
    this.entries.clear();
    for (const e of entries) this.entries.set(e.key, e);
    this.resets.next({ kind: 'reset', entries: [...this.entries.values()], revision: this.revision });
  }

  async delete(key: string): Promise<void> {
    if (!this.entries.delete(key)) return;
    this.emit({ change: { type: 'delete', key, revision: ++this.revision }, revision: this.revision });
  }

  watch(revision: number): Observable<RegistryUpdate> {
    const changes = defer(() => concat(from([...this.history]), this.changes)).pipe(
      filter((c) => c.revision > revision),
      map(({ change, revision: rev }): RegistryUpdate => ({ kind: 'changes', changes: [change], revision: rev })),
    );
    return merge(changes, this.resets);
  }

  async close(): Promise<void> {
    this.changes.complete();
  }

  private emit(c: { change: RegistryChange; revision: number }): void {
    this.history.push(c);
    this.changes.next(c);
  }

  put(key: string, value: string, ttlSeconds: number): StoredSubnet {
    const entry: StoredSubnet = { key, value, reservation: ttlSeconds === 0, revision: ++this.revision };
    if (ttlSeconds > 0) entry.expiration = new Date(this.clock.now().getTime() + ttlSeconds * 1000);
    this.entries.set(key, entry);
    this.emit({ change: { type: 'put', entry }, revision: this.revision });
    return entry;
  }
}

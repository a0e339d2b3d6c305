import { closeSync, fstatSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { RegistryChange, StoredSubnet } from '../registry.js';

/**
 * One line of the lease log. `create` applies only when the key is free (absent or expired at `at`),
 * `replace` only when the key still holds entry `prev`, `expire` only when the key still holds entry
 * `id`; `put` and `delete` always apply.
 */
export type LogRecord =
  | { op: 'create' | 'put'; key: string; value: string; exp: number | null; at: number; id: string }
  | { op: 'replace'; key: string; value: string; exp: number | null; at: number; id: string; prev: string }
  | { op: 'delete'; key: string; at: number; id: string }
  | { op: 'expire'; key: string; at: number; id: string };

interface Entry {
  value: string;
  exp: number | null;
  id: string;
  revision: number;
}

/**
 * An append-only JSON-lines file that several processes share. Appends use O_APPEND, so each record lands
 * whole and every process sees the same order; each process replays that order, so they all agree on who
 * won a create. The revision is the record's position in the file. Records are framed by newlines on both
 * sides, so a record torn by a crash mid-write cannot swallow the next one.
 */
export class LeaseLog {
  private readonly readFd: number;
  private readonly appendFd: number;
  private offset = 0;
  private pending = '';
  private seq = 0;
  private readonly entries = new Map<string, Entry>();
  /** Every change applied so far, for watchers that start from an older revision. */
  readonly history: { revision: number; change: RegistryChange }[] = [];
  malformed = 0;

  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
    this.appendFd = openSync(path, 'a', 0o600);
    this.readFd = openSync(path, 'r');
  }

  get revision(): number {
    return this.seq;
  }

  static newId(): string {
    return randomBytes(8).toString('hex');
  }

  append(record: LogRecord): void {
    writeSync(this.appendFd, `\n${JSON.stringify(record)}\n`);
  }

  /** Reads what other processes appended since the last call and applies it; returns the new changes. */
  refresh(): { revision: number; change: RegistryChange }[] {
    const size = fstatSync(this.readFd).size;
    if (size <= this.offset) return [];
    const buf = Buffer.alloc(size - this.offset);
    const n = readSync(this.readFd, buf, 0, buf.length, this.offset);
    this.offset += n;
    const lines = (this.pending + buf.subarray(0, n).toString()).split('\n');
    this.pending = lines.pop()!;
    const start = this.history.length;
    for (const line of lines) if (line.trim()) this.applyLine(line);
    return this.history.slice(start);
  }

  /** The live entries at `now` (expired ones are gone even before an expire record says so). */
  live(now: number): StoredSubnet[] {
    return [...this.entries].filter(([, e]) => e.exp === null || e.exp > now).map(([key, e]) => toStored(key, e));
  }

  get(key: string): (StoredSubnet & { id: string }) | undefined {
    const e = this.entries.get(key);
    return e && { ...toStored(key, e), id: e.id };
  }

  /** Entries whose TTL ran out by `now`, and the earliest expiry still ahead. */
  expiry(now: number): { expired: { key: string; id: string }[]; next?: number } {
    const expired: { key: string; id: string }[] = [];
    let next: number | undefined;
    for (const [key, e] of this.entries) {
      if (e.exp === null) continue;
      if (e.exp <= now) expired.push({ key, id: e.id });
      else next = Math.min(next ?? Infinity, e.exp);
    }
    return next === undefined ? { expired } : { expired, next };
  }

  close(): void {
    closeSync(this.readFd);
    closeSync(this.appendFd);
  }

  private set(key: string, entry: Entry): void {
    this.entries.set(key, entry);
    this.history.push({ revision: entry.revision, change: { type: 'put', entry: toStored(key, entry) } });
  }

  private applyLine(line: string): void {
    let rec: LogRecord;
    try {
      rec = JSON.parse(line) as LogRecord;
      if (typeof rec.key !== 'string' || typeof rec.op !== 'string') throw new Error('not a record');
    } catch {
      this.malformed++; // a torn write; the records around it are intact
      return;
    }
    const revision = ++this.seq;
    const current = this.entries.get(rec.key);
    switch (rec.op) {
      case 'replace':
        if (current?.id !== rec.prev) return;
        this.set(rec.key, { value: rec.value, exp: rec.exp, id: rec.id, revision });
        return;
      case 'create':
        if (current && (current.exp === null || current.exp > rec.at)) return;
      // falls through: the key is free
      case 'put':
        this.set(rec.key, { value: rec.value, exp: rec.exp, id: rec.id, revision });
        return;
      case 'expire':
        if (current?.id !== rec.id) return;
      // falls through: it is still the entry that expired
      case 'delete':
        if (!current) return;
        this.entries.delete(rec.key);
        this.history.push({ revision, change: { type: 'delete', key: rec.key, revision } });
    }
  }
}

function toStored(key: string, e: Entry): StoredSubnet {
  const s: StoredSubnet = { key, value: e.value, reservation: e.exp === null, revision: e.revision };
  if (e.exp !== null) s.expiration = new Date(e.exp);
  return s;
}

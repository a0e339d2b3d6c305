import { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readSync, statSync, writeSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { UserError } from '../../errors/user-error.js';
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

/** A line of the file that is not a record: torn by an interrupted write (skipped), or corrupt. */
export interface LogProblem {
  kind: 'torn' | 'corrupt';
  /** 1-based, as editors and `sed` count lines. */
  line: number;
  /** Of the line's first byte. */
  offset: number;
  reason: string;
}

export interface LeaseLogOptions {
  /** Who must own the file and may own its directory (besides root); this process's effective user by default. */
  uid?: number;
  /** writeSync; tests replace it to make a write come up short. */
  write?: (fd: number, data: Buffer) => number;
  /** Told of every torn or corrupt line as it is read. */
  onProblem?: (problem: LogProblem) => void;
}

export interface RefreshResult {
  /** Set when the file was replaced, removed, shortened or rewritten: everything was read again from the start. */
  reset?: string;
  /** The changes applied by this refresh (after a reset: every change of the file). */
  changes: { revision: number; change: RegistryChange }[];
}

interface Entry {
  value: string;
  exp: number | null;
  id: string;
  revision: number;
}

/** What every checksummed line ends with: `,"crc":"<crc32 of the record's JSON, 8 hex digits>"}`. */
const CRC_SUFFIX = /,"crc":"([0-9a-f]{8})"\}$/;
const CRC_ANYWHERE = /"crc":"[0-9a-f]{8}"\}/;
const RECORD_START = Buffer.from('{"op":"');
const NEWLINE = 0x0a;
const READ_CHUNK = 1 << 20;

/**
 * An append-only JSON-lines file that several processes share. Appends use O_APPEND, so each record lands
 * whole and every process sees the same order; each process replays that order, so they all agree on who
 * won a create. The revision is the record's position in the file.
 *
 * Each record is framed by newlines on both sides (`\n{...}\n`) and carries a CRC-32 of its JSON as its last
 * field, so what every process makes of the file depends on its bytes alone:
 * - a record whose checksum holds is applied (a record without one only in a log written before checksums,
 *   that is before the first checksummed record);
 * - a line cut short by an interrupted write (a crash, a full disk) is ended by the next record's leading
 *   newline, so it is not followed by the blank separator a whole record has: when it is a prefix of a
 *   record (or zeros, blocks a crash never wrote) it is skipped as torn, as its writer never saw it succeed;
 * - any other line is corrupt: a record that was whole once and that processes which read it earlier may have
 *   applied. It is reported, and while the file holds one no write that takes a subnet is made (see
 *   integrityProblem), since the lost record may have given that subnet to a node that still holds it.
 *
 * The file is opened O_NOFOLLOW, created exclusively with mode 0600, and refused when another user owns it
 * or when it or its directory is writable by group or others. A file replaced, removed or shortened under us
 * is read again from the start (a reset), as is one whose bytes already read changed (checked before a write
 * that takes a subnet).
 */
export class LeaseLog {
  private fd: number;
  private identity: { dev: number; ino: number };
  private readonly uid: number;
  private readonly write: (fd: number, data: Buffer) => number;
  private readonly onProblem: (problem: LogProblem) => void;
  /** Bytes read and applied (or skipped) so far; the rest is `tail`, a record still being written or one to judge. */
  private readPos = 0;
  private tail = Buffer.alloc(0);
  /** The line number of the byte at readPos, and the CRC-32 of the bytes before it (to notice them rewritten). */
  private lineNo = 1;
  private crc = 0;
  /** A checksummed record was read: from then on, every record must carry a checksum. */
  private checksummed = false;
  private seq = 0;
  /** Revisions go on from here after a reset, so that they never go back within one process. */
  private base = 0;
  private readonly entries = new Map<string, Entry>();
  /** Every change applied since the file was last read from its start, for watchers of an older revision. */
  history: { revision: number; change: RegistryChange }[] = [];
  /** The revision before the last reset: a watcher from before it needs the whole list again. */
  resetAt = 0;
  /** Corrupt lines read so far (since the last reset). */
  corrupt: LogProblem[] = [];
  /** Torn lines skipped so far (since the last reset). */
  torn = 0;
  /** Set while the file at `path` cannot be used safely (replaced by a link, another user's file, ...). */
  unsafe: UserError | undefined;

  constructor(
    readonly path: string,
    options: LeaseLogOptions = {},
  ) {
    this.uid = options.uid ?? process.geteuid?.() ?? 0;
    this.write = options.write ?? ((fd, data) => writeSync(fd, data));
    this.onProblem = options.onProblem ?? (() => undefined);
    const opened = openStore(path, this.uid);
    this.fd = opened.fd;
    this.identity = opened.identity;
  }

  get revision(): number {
    return this.base + this.seq;
  }

  static newId(): string {
    return randomBytes(8).toString('hex');
  }

  /** Appends one record, whole or not at all as far as this process knows: a short write throws. */
  append(record: LogRecord): void {
    if (this.unsafe) throw this.unsafe;
    const data = Buffer.from(`\n${encodeRecord(record)}\n`);
    let written: number;
    try {
      written = this.write(this.fd, data);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new Error(`cannot append to the embedded store ${this.path}: ${e.code ?? e.message}${e.code === 'ENOSPC' ? ' (the disk is full)' : ''}`, {
        cause: err,
      });
    }
    if (written !== data.length) {
      // The part that landed is a torn line that every reader skips; the next append starts on a new line.
      throw new Error(`short write to the embedded store ${this.path}: ${written} of ${data.length} bytes (is the disk full?); the record was not stored`);
    }
  }

  /**
   * Reads what other processes appended since the last call and applies it. Notices a file replaced, removed
   * or shortened and reads it again from the start; with `verify`, also bytes already read that changed.
   */
  refresh(opts: { verify?: boolean } = {}): RefreshResult {
    let reset = this.checkIdentity();
    if (!reset) {
      const size = fstatSync(this.fd).size;
      if (size < this.readPos) reset = `it shrank from ${this.readPos} to ${size} bytes`;
      else if (opts.verify && !this.prefixUnchanged()) reset = 'bytes already read were rewritten';
    }
    if (reset) this.restart();
    const start = this.history.length;
    this.readNew();
    return reset ? { reset, changes: this.history.slice(start) } : { changes: this.history.slice(start) };
  }

  /**
   * Why a write that takes a subnet (create, put) must not be made: a corrupt record, or an end of the file
   * that is neither whole records nor a record being written. Undefined when the log is sound.
   */
  integrityProblem(): LogProblem | undefined {
    if (this.corrupt.length > 0) return this.corrupt[0];
    if (this.tail.length === 0) return undefined;
    const nl = this.tail.indexOf(NEWLINE);
    const line = nl < 0 ? this.tail : this.tail.subarray(0, nl);
    if (looksTorn(line)) return undefined;
    return { kind: 'corrupt', line: this.lineNo, offset: this.readPos, reason: 'the end of the file is not a record' };
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
    closeSync(this.fd);
  }

  /** A different file at our path (or none) is opened, checked like the first, and read from the start. */
  private checkIdentity(): string | undefined {
    let st: Stats | undefined;
    try {
      st = lstatSync(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (st && st.dev === this.identity.dev && st.ino === this.identity.ino) return undefined;
    try {
      const opened = openStore(this.path, this.uid);
      closeSync(this.fd);
      this.fd = opened.fd;
      this.identity = opened.identity;
      this.unsafe = undefined;
    } catch (err) {
      // Keep the view we have, and refuse to write until the path holds a file we can trust again.
      this.unsafe =
        err instanceof UserError ? err : new UserError('--embedded-store-path', `cannot open ${this.path} again: ${(err as Error).message}`, 'check the file');
      return undefined;
    }
    return st ? 'it was replaced by another file' : 'it was removed (a new, empty one was created)';
  }

  private prefixUnchanged(): boolean {
    let crc = 0;
    const buf = Buffer.alloc(Math.min(READ_CHUNK, Math.max(this.readPos, 1)));
    for (let pos = 0; pos < this.readPos;) {
      const n = readSync(this.fd, buf, 0, Math.min(buf.length, this.readPos - pos), pos);
      if (n === 0) return false;
      crc = crc32(buf.subarray(0, n), crc);
      pos += n;
    }
    return crc === this.crc;
  }

  private restart(): void {
    this.resetAt = this.revision;
    this.base = this.revision;
    this.seq = 0;
    this.readPos = 0;
    this.tail = Buffer.alloc(0);
    this.lineNo = 1;
    this.crc = 0;
    this.checksummed = false;
    this.entries.clear();
    this.history = [];
    this.corrupt = [];
    this.torn = 0;
  }

  private readNew(): void {
    const size = fstatSync(this.fd).size;
    if (size <= this.readPos) return;
    const buf = Buffer.alloc(size - this.readPos);
    let filled = 0;
    while (filled < buf.length) {
      const n = readSync(this.fd, buf, filled, buf.length - filled, this.readPos + filled);
      if (n === 0) break;
      filled += n;
    }
    const data = buf.subarray(0, filled);
    let pos = 0;
    let lineNo = this.lineNo;
    while (pos < data.length) {
      if (data[pos] === NEWLINE) {
        pos++;
        lineNo++;
        continue;
      }
      const nl = data.indexOf(NEWLINE, pos);
      if (nl < 0) break; // a record still being written, or a torn one the next record will end
      const line = data.subarray(pos, nl);
      const where = { line: lineNo, offset: this.readPos + pos };
      const parsed = parseLine(line, this.checksummed);
      if (parsed.record) {
        if (parsed.checksummed) this.checksummed = true;
        this.apply(parsed.record);
      } else {
        // A line that could be the start of a record is torn if the next record's newline ended it, and corrupt
        // if a blank separator follows (it was whole once): wait for the next byte to tell. Any other is corrupt.
        const torn = looksTorn(line);
        if (torn && nl + 1 >= data.length) break;
        const problem: LogProblem =
          torn && data[nl + 1] !== NEWLINE
            ? { kind: 'torn', ...where, reason: 'cut short by an interrupted write' }
            : { kind: 'corrupt', ...where, reason: parsed.problem! };
        if (problem.kind === 'torn') this.torn++;
        else this.corrupt.push(problem);
        this.onProblem(problem);
      }
      pos = nl + 1;
      lineNo++;
    }
    this.crc = crc32(data.subarray(0, pos), this.crc);
    this.readPos += pos;
    this.lineNo = lineNo;
    this.tail = Buffer.from(data.subarray(pos));
  }

  private set(key: string, entry: Entry): void {
    this.entries.set(key, entry);
    this.history.push({ revision: entry.revision, change: { type: 'put', entry: toStored(key, entry) } });
  }

  private apply(rec: LogRecord): void {
    const revision = this.base + ++this.seq;
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

/** The line a record is stored as: its JSON with the CRC-32 of that JSON added as the last field. */
export function encodeRecord(record: LogRecord): string {
  const json = JSON.stringify(record);
  return `${json.slice(0, -1)},"crc":"${crc32(json).toString(16).padStart(8, '0')}"}`;
}

function parseLine(line: Buffer, checksummed: boolean): { record?: LogRecord; checksummed?: boolean; problem?: string } {
  const text = line.toString('utf8');
  const m = CRC_SUFFIX.exec(text);
  if (m) {
    const json = `${text.slice(0, m.index)}}`;
    if (crc32(json) !== parseInt(m[1]!, 16)) return { problem: 'checksum mismatch' };
    const record = parseRecord(json);
    return record ? { record, checksummed: true } : { problem: 'the checksum holds, but it is no record this version knows' };
  }
  if (checksummed) return { problem: 'no checksum, after records that carry one' };
  const record = parseRecord(text);
  return record ? { record } : { problem: 'not a record' };
}

function parseRecord(text: string): LogRecord | undefined {
  let r: Record<string, unknown>;
  try {
    r = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof r !== 'object' || r === null || typeof r.key !== 'string' || typeof r.at !== 'number' || typeof r.id !== 'string') return undefined;
  switch (r.op) {
    case 'replace':
      if (typeof r.prev !== 'string') return undefined;
    // falls through
    case 'create':
    case 'put':
      if (typeof r.value !== 'string' || (r.exp !== null && typeof r.exp !== 'number')) return undefined;
      return r as unknown as LogRecord;
    case 'delete':
    case 'expire':
      return r as unknown as LogRecord;
    default:
      return undefined;
  }
}

/**
 * Whether a line that is not a record could be one cut short by an interrupted write: zeros (blocks a crash
 * never wrote), or the start of a record, in the bytes JSON.stringify writes, that does not hold a whole
 * record's end (a line that does was a whole record once).
 */
function looksTorn(line: Buffer): boolean {
  let end = line.length;
  while (end > 0 && line[end - 1] === 0) end--;
  if (end === 0) return true;
  const head = line.subarray(0, end);
  const n = Math.min(head.length, RECORD_START.length);
  if (!head.subarray(0, n).equals(RECORD_START.subarray(0, n))) return false;
  for (const b of head) if (b < 0x20 || b === 0x7f) return false;
  const text = head.toString('utf8');
  return !text.includes('\uFFFD') && !CRC_ANYWHERE.test(text);
}

/**
 * Opens (or creates, exclusively and 0600) the store file without following a link, after checking that its
 * directory is not writable by group or others and belongs to us or root, and that the file is a regular
 * file of ours that only we can write. Anything else is a UserError that names the path and the fix.
 */
function openStore(path: string, uid: number): { fd: number; identity: { dev: number; ino: number } } {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const ds = statSync(dir);
  if ((ds.mode & 0o022) !== 0) {
    throw refuse(
      `its directory ${dir} is writable by ${writers(ds.mode)} (mode ${octal(ds.mode)}), who could replace the file`,
      `chmod go-w ${dir}, or keep the store in a directory only its owner can write`,
    );
  }
  if (ds.uid !== uid && ds.uid !== 0) {
    throw refuse(`its directory ${dir} belongs to uid ${ds.uid}, who could replace the file`, `keep the store in a directory of root or of uid ${uid}`);
  }
  const { O_RDWR, O_APPEND, O_CREAT, O_EXCL, O_NOFOLLOW } = constants;
  let fd: number | undefined;
  for (let attempt = 0; fd === undefined; attempt++) {
    try {
      fd = openSync(path, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw openError(path, err);
      try {
        fd = openSync(path, O_RDWR | O_APPEND | O_NOFOLLOW);
      } catch (err2) {
        // Removed between the two opens: create it after all (a few times at most).
        if ((err2 as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 3) throw openError(path, err2);
      }
    }
  }
  const st = fstatSync(fd);
  const problem = !st.isFile()
    ? ['it is not a regular file', `point --embedded-store-path at a regular file`]
    : st.uid !== uid
      ? [
          `it belongs to uid ${st.uid}, not to this user (uid ${uid}), who could rewrite our leases`,
          `chown ${uid} ${path}, or remove it if you do not know where it came from`,
        ]
      : (st.mode & 0o022) !== 0
        ? [`it is writable by ${writers(st.mode)} (mode ${octal(st.mode)})`, `chmod 600 ${path}`]
        : undefined;
  if (problem) {
    closeSync(fd);
    throw refuse(problem[0]!, problem[1]!);
  }
  return { fd, identity: { dev: st.dev, ino: st.ino } };

  function refuse(problem: string, hint: string): UserError {
    return new UserError('--embedded-store-path', `refusing the embedded store ${path}: ${problem}`, hint);
  }
}

function openError(path: string, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ELOOP') {
    return new UserError(
      '--embedded-store-path',
      `refusing the embedded store ${path}: it is a symbolic link, which could send our writes elsewhere`,
      'point --embedded-store-path at the file itself',
    );
  }
  return err as Error;
}

function writers(mode: number): string {
  return [mode & 0o020 ? 'its group' : '', mode & 0o002 ? 'others' : ''].filter(Boolean).join(' and ');
}

function octal(mode: number): string {
  return `0${(mode & 0o7777).toString(8)}`;
}

function toStored(key: string, e: Entry): StoredSubnet {
  const s: StoredSubnet = { key, value: e.value, reservation: e.exp === null, revision: e.revision };
  if (e.exp !== null) s.expiration = new Date(e.exp);
  return s;
}

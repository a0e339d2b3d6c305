import {
  appendFileSync,
  chmodSync,
  chownSync,
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { UserError } from '../../errors/user-error.js';
import { encodeRecord, LeaseLog, type LogProblem, type LogRecord } from './lease-log.js';

let dir: string;
const isRoot = process.geteuid?.() === 0;
const opened: LeaseLog[] = [];
const open = (path = join(dir, 'log'), options: ConstructorParameters<typeof LeaseLog>[1] = {}) => {
  const log = new LeaseLog(path, options);
  opened.push(log);
  return log;
};
const put = (key: string, value: string, id = key): LogRecord => ({ op: 'put', key, value, exp: null, at: 1, id });
const create = (key: string, value: string, id: string): LogRecord => ({ op: 'create', key, value, exp: null, at: 1, id });

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fts-leaselog-'));
});
afterEach(() => {
  for (const log of opened.splice(0)) log.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('LeaseLog: agreement between writers', () => {
  it('lets exactly one of two writers create a key, and both agree on which', () => {
    const a = open();
    const b = open();
    a.append(create('k', 'A', 'a'));
    b.append(create('k', 'B', 'b'));
    a.refresh();
    b.refresh();
    expect(a.get('k')?.id).toBe('a');
    expect(b.get('k')?.value).toBe('A');
  });

  it('lets a create take a key whose TTL ran out, and ignores a stale expire', () => {
    const log = open();
    log.append({ op: 'create', key: 'k', value: 'old', exp: 100, at: 1, id: 'x' });
    log.append({ op: 'create', key: 'k', value: 'new', exp: 500, at: 200, id: 'y' });
    log.append({ op: 'expire', key: 'k', at: 300, id: 'x' });
    log.refresh();
    expect(log.get('k')?.value).toBe('new');
    expect(log.live(250).map((e) => e.value)).toEqual(['new']);
    expect(log.live(600)).toEqual([]);
  });
});

describe('LeaseLog: checksums', () => {
  it('writes each record as a JSON line whose last field is the CRC-32 of the record without it', () => {
    const log = open();
    log.append(put('k', 'v'));
    const lines = readFileSync(log.path, 'utf8').split('\n');
    expect(lines[0]).toBe('');
    const parsed = JSON.parse(lines[1]!) as Record<string, unknown>;
    const { crc, ...record } = parsed;
    expect(record).toEqual(put('k', 'v'));
    expect(crc).toBe(crc32(JSON.stringify(record)).toString(16).padStart(8, '0'));
  });

  it('reports a record whose bytes changed as corrupt, naming its line and byte offset, and does not apply it', () => {
    const problems: LogProblem[] = [];
    const writer = open();
    writer.append(put('a', 'A'));
    writer.append(create('b', 'B', 'b1'));
    writer.append(put('c', 'C'));
    const text = readFileSync(writer.path, 'utf8');
    const at = text.indexOf('"B"');
    writeFileSync(writer.path, `${text.slice(0, at)}"X"${text.slice(at + 3)}`); // same length, framing intact
    const reader = open(writer.path, { onProblem: (p) => problems.push(p) });
    reader.refresh();
    const offset = text.indexOf('{"op":"create"');
    expect(problems).toEqual([{ kind: 'corrupt', line: 4, offset, reason: 'checksum mismatch' }]);
    expect(reader.get('b')).toBeUndefined();
    expect(reader.live(0).map((e) => e.key)).toEqual(['a', 'c']);
    expect(reader.integrityProblem()).toEqual(problems[0]);
  });

  it('judges a corrupt last record at once, without waiting for another record after it', () => {
    const writer = open();
    writer.append(put('a', 'A'));
    writer.append(create('b', 'B', 'b1'));
    const text = readFileSync(writer.path, 'utf8');
    const at = text.lastIndexOf('"B"');
    writeFileSync(writer.path, `${text.slice(0, at)}"X"${text.slice(at + 3)}`);
    const reader = open(writer.path);
    reader.refresh();
    expect(reader.corrupt).toEqual([{ kind: 'corrupt', line: 4, offset: text.indexOf('{"op":"create"'), reason: 'checksum mismatch' }]);
    expect(reader.integrityProblem()?.reason).toBe('checksum mismatch');
  });

  it('reports garbage that ran over a record end and its newline as corrupt, not torn', () => {
    const writer = open();
    writer.append(put('a', 'A'));
    writer.append(put('b', 'B'));
    const text = readFileSync(writer.path, 'utf8');
    const end = text.indexOf('\n', 2); // the first record's own newline
    writeFileSync(writer.path, `${text.slice(0, end)}#${text.slice(end + 1)}`);
    const reader = open(writer.path);
    reader.refresh();
    expect(reader.corrupt.map((p) => p.reason)).toEqual(['not a record']);
    expect(reader.torn).toBe(0);
    expect(reader.get('b')?.value).toBe('B');
  });

  it('reports a record of a known shape but an unknown op as corrupt, even with a good checksum', () => {
    const log = open();
    const json = JSON.stringify({ op: 'steal', key: 'k', at: 1, id: 'z' });
    appendFileSync(log.path, `\n${json.slice(0, -1)},"crc":"${crc32(json).toString(16).padStart(8, '0')}"}\n`);
    log.refresh();
    // Judged at once, even as the last line of the file: it holds a whole record's end, so it is no torn one.
    expect(log.corrupt.map((p) => p.reason)).toEqual(['the checksum holds, but it is no record this version knows']);
  });

  it('loads a log written before checksums, and refuses an unchecksummed record after a checksummed one', () => {
    const path = join(dir, 'log');
    writeFileSync(path, `\n${JSON.stringify(put('old', '1'))}\n\n${JSON.stringify(create('k', 'K', 'k1'))}\n`, { mode: 0o600 });
    const log = open(path);
    log.refresh();
    expect(log.get('old')?.value).toBe('1');
    expect(log.get('k')?.value).toBe('K');
    expect(log.corrupt).toEqual([]);
    log.append(put('new', '2'));
    appendFileSync(path, `\n${JSON.stringify(put('late', '3'))}\n\n`);
    log.refresh();
    expect(log.get('new')?.value).toBe('2');
    expect(log.get('late')).toBeUndefined();
    expect(log.corrupt.map((p) => [p.line, p.reason])).toEqual([[8, 'no checksum, after records that carry one']]);
  });

  it('skips a record torn by a crash without calling it corrupt: the next record still applies', () => {
    const problems: LogProblem[] = [];
    const log = open(join(dir, 'log'), { onProblem: (p) => problems.push(p) });
    appendFileSync(log.path, `\n${encodeRecord(put('k1', 'v')).slice(0, 25)}`);
    log.refresh();
    expect(problems).toEqual([]); // the tail may still be being written: nothing is judged yet
    expect(log.integrityProblem()).toBeUndefined();
    log.append(put('k2', 'v'));
    log.refresh();
    expect(log.get('k2')?.value).toBe('v');
    expect(log.get('k1')).toBeUndefined();
    expect(problems).toEqual([{ kind: 'torn', line: 2, offset: 1, reason: 'cut short by an interrupted write' }]);
    expect(log.integrityProblem()).toBeUndefined();
  });

  it('skips zeros a crash left where records were never written', () => {
    const log = open();
    log.append(put('a', 'A'));
    appendFileSync(log.path, Buffer.alloc(300));
    log.append(put('b', 'B'));
    log.refresh();
    expect(log.torn).toBe(1);
    expect(log.corrupt).toEqual([]);
    expect(log.live(0).map((e) => e.key)).toEqual(['a', 'b']);
  });

  it('counts an unreadable end of the file (no record, not a torn one) as a reason to refuse', () => {
    const log = open();
    log.append(put('a', 'A'));
    appendFileSync(log.path, '\n\x01\x02garbage');
    log.refresh();
    expect(log.integrityProblem()).toMatchObject({ kind: 'corrupt', line: 4, reason: 'the end of the file is not a record' });
  });
});

describe('LeaseLog: writes', () => {
  it('throws on a short write (a full disk), and readers skip the part that landed as torn', () => {
    const path = join(dir, 'log');
    const short = open(path, { write: (fd, data) => writeSync(fd, data.subarray(0, 40)) });
    expect(() => short.append(put('lost', 'L'))).toThrow(
      /^short write to the embedded store .*\/log: 40 of \d+ bytes \(is the disk full\?\); the record was not stored$/,
    );
    const other = open(path);
    other.append(put('next', 'N'));
    other.refresh();
    expect(other.get('lost')).toBeUndefined();
    expect(other.get('next')?.value).toBe('N');
    expect(other.torn).toBe(1);
    expect(other.integrityProblem()).toBeUndefined();
  });

  it('names the file when the disk is full', () => {
    const full = open(join(dir, 'log'), {
      write: () => {
        throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
      },
    });
    expect(() => full.append(put('k', 'v'))).toThrow(`cannot append to the embedded store ${join(dir, 'log')}: ENOSPC (the disk is full)`);
  });
});

describe('LeaseLog: the file changing under us', () => {
  it('reads a truncated file again from the start, as a reset, with revisions that keep going up', () => {
    const log = open();
    log.append(put('a', 'A'));
    log.append(put('b', 'B'));
    log.refresh();
    const before = log.revision;
    truncateSync(log.path, 0);
    const other = open(log.path);
    other.append(put('c', 'C'));
    const r = log.refresh();
    expect(r.reset).toMatch(/^it shrank from \d+ to \d+ bytes$/);
    expect(log.live(0).map((e) => e.key)).toEqual(['c']);
    expect(log.revision).toBe(before + 1);
    expect(log.resetAt).toBe(before);
  });

  it('follows a file replaced by rename (an editor, sed -i), and one removed', () => {
    const log = open();
    log.append(put('a', 'A'));
    log.refresh();
    const next = join(dir, 'log.new');
    writeFileSync(next, `\n${encodeRecord(put('b', 'B'))}\n`, { mode: 0o600 });
    renameSync(next, log.path);
    expect(log.refresh().reset).toBe('it was replaced by another file');
    expect(log.live(0).map((e) => e.key)).toEqual(['b']);
    rmSync(log.path);
    expect(log.refresh().reset).toBe('it was removed (a new, empty one was created)');
    expect(log.live(0)).toEqual([]);
    log.append(put('c', 'C'));
    log.refresh();
    expect(log.live(0).map((e) => e.key)).toEqual(['c']);
    expect(statSync(log.path).mode & 0o777).toBe(0o600);
  });

  it('notices, when asked to verify, bytes it had read that were rewritten in place', () => {
    const log = open();
    log.append(create('a', 'A', 'a1'));
    log.append(put('b', 'B'));
    log.refresh();
    const text = readFileSync(log.path, 'utf8');
    const at = text.indexOf('"A"');
    const fd = openSync(log.path, 'r+');
    writeSync(fd, '"Z"', at);
    closeSync(fd);
    expect(log.refresh().reset).toBeUndefined(); // an ordinary refresh reads only what is new
    expect(log.get('a')?.value).toBe('A');
    expect(log.refresh({ verify: true }).reset).toBe('bytes already read were rewritten');
    expect(log.get('a')).toBeUndefined();
    expect(log.integrityProblem()).toMatchObject({ kind: 'corrupt', line: 2, reason: 'checksum mismatch' });
  });
});

describe('LeaseLog: files others can write (O_NOFOLLOW, 0600, owner and mode checks)', () => {
  it('creates the file 0600', () => {
    const log = open(join(dir, 'sub', 'leases.jsonl'));
    expect(statSync(log.path).mode & 0o777).toBe(0o600);
  });

  it('refuses a symbolic link', () => {
    const target = join(dir, 'target');
    writeFileSync(target, '', { mode: 0o600 });
    symlinkSync(target, join(dir, 'link'));
    expect(() => open(join(dir, 'link'))).toThrow(UserError);
    expect(() => open(join(dir, 'link'))).toThrow(
      `--embedded-store-path: refusing the embedded store ${join(dir, 'link')}: it is a symbolic link, which could send our writes elsewhere; point --embedded-store-path at the file itself`,
    );
  });

  it('refuses a file others or its group can write', () => {
    const path = join(dir, 'log');
    writeFileSync(path, '');
    chmodSync(path, 0o666);
    expect(() => open(path)).toThrow(`refusing the embedded store ${path}: it is writable by its group and others (mode 0666); chmod 600 ${path}`);
    chmodSync(path, 0o620);
    expect(() => open(path)).toThrow(`it is writable by its group (mode 0620)`);
  });

  it("refuses another user's file", () => {
    const path = join(dir, 'log');
    writeFileSync(path, '', { mode: 0o600 });
    // As root, the file is given away; otherwise this process pretends to be someone else (its directory too).
    if (isRoot) chownSync(path, 12345, 12345);
    const owner = statSync(path).uid;
    const me = isRoot ? 0 : owner + 1000;
    expect(() => open(path, isRoot ? {} : { uid: me })).toThrow(
      isRoot
        ? `refusing the embedded store ${path}: it belongs to uid 12345, not to this user (uid 0), who could rewrite our leases; chown 0 ${path}, or remove it if you do not know where it came from`
        : `belongs to uid ${owner}`,
    );
  });

  it('refuses a directory others can write, sticky or not, and one of another user', () => {
    const shared = join(dir, 'shared');
    mkdirSync(shared);
    chmodSync(shared, 0o1777);
    expect(() => open(join(shared, 'log'))).toThrow(
      `refusing the embedded store ${join(shared, 'log')}: its directory ${shared} is writable by its group and others (mode 01777), who could replace the file; chmod go-w ${shared}`,
    );
    chmodSync(shared, 0o755);
    if (isRoot) chownSync(shared, 12345, 12345);
    const owner = statSync(shared).uid;
    expect(() => open(join(shared, 'log'), isRoot ? {} : { uid: owner + 1000 })).toThrow(
      `refusing the embedded store ${join(shared, 'log')}: its directory ${shared} belongs to uid ${owner}, who could replace the file`,
    );
  });

  it('stops writing, and says why, when the path is replaced by a file it must refuse', () => {
    const log = open();
    log.append(put('a', 'A'));
    log.refresh();
    const next = join(dir, 'evil');
    writeFileSync(next, '');
    chmodSync(next, 0o666);
    renameSync(next, log.path);
    expect(log.refresh().reset).toBeUndefined();
    expect(log.unsafe?.message).toMatch(/it is writable by its group and others/);
    expect(log.get('a')?.value).toBe('A');
    expect(() => log.append(put('b', 'B'))).toThrow(/it is writable by its group and others/);
    chmodSync(log.path, 0o600);
    expect(log.refresh().reset).toBe('it was replaced by another file');
    expect(log.unsafe).toBeUndefined();
  });
});

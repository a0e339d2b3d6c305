import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstValueFrom, filter, take, toArray } from 'rxjs';
import { IP } from '../../ip/ip.js';
import { UserError } from '../../errors/user-error.js';
import { RecordingLogger } from '../../testing/recording-logger.js';
import type { RegistryUpdate } from '../registry.js';
import { StoreSubnetManager } from '../store-subnet-manager.js';
import { EmbeddedRegistry } from './embedded-registry.js';

let dir: string;
const opened: EmbeddedRegistry[] = [];
const storePath = () => join(dir, 'store', 'leases.jsonl');
const open = (logger = new RecordingLogger(), options: ConstructorParameters<typeof EmbeddedRegistry>[4] = {}) => {
  const r = new EmbeddedRegistry(storePath(), join(dir, 'net-conf.json'), logger, undefined, options);
  opened.push(r);
  return r;
};
const signal = new AbortController().signal;
const attrs = (ip: string) => ({ publicIP: IP.parse(ip), backendType: 'vxlan' });

/** Overwrites `from` with `to` (same length) where it first occurs in the store file, as a bad disk or a stray write would. */
function corruptInPlace(from: string, to: string): void {
  const text = readFileSync(storePath(), 'utf8');
  expect(to).toHaveLength(from.length);
  const at = text.indexOf(from);
  expect(at).toBeGreaterThanOrEqual(0);
  writeFileSync(storePath(), text.slice(0, at) + to + text.slice(at + from.length));
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fts-embedded-'));
  writeFileSync(join(dir, 'net-conf.json'), '{"Network":"10.1.0.0/16","Backend":{"Type":"vxlan"}}');
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((r) => r.close()));
  rmSync(dir, { recursive: true, force: true });
});

describe('EmbeddedRegistry', () => {
  it('reads the network config from the net-conf file, and says where it looked', async () => {
    rmSync(join(dir, 'net-conf.json'));
    const r = open();
    await expect(r.getNetworkConfig()).rejects.toThrow(/--net-config-path: cannot read .*net-conf.json: ENOENT; the embedded store takes/);
    writeFileSync(join(dir, 'net-conf.json'), '{"Network":"10.1.0.0/16"}');
    await expect(r.getNetworkConfig()).resolves.toBe('{"Network":"10.1.0.0/16"}');
  });

  it("creates atomically across two instances and streams one instance's writes to the other", async () => {
    const a = open();
    const b = open();
    const seen = firstValueFrom(b.watch(0).pipe(take(2), toArray()));
    expect(await a.create('10.1.2.0-24', 'A', 60)).toMatchObject({ key: '10.1.2.0-24', value: 'A', reservation: false });
    expect(await b.create('10.1.2.0-24', 'B', 60)).toBeUndefined();
    await a.delete('10.1.2.0-24');
    const updates = await seen;
    expect(updates.flatMap((u) => (u.kind === 'changes' ? u.changes.map((c) => c.type) : []))).toEqual(['put', 'delete']);
  });

  it('gives a new watcher every change from its revision on, those read before it came and those read as it comes', async () => {
    const a = open();
    const b = open();
    await b.create('10.1.2.0-24', 'first', 60);
    await a.get('10.1.2.0-24'); // a has read the first create, with nobody watching yet
    await b.create('10.1.3.0-24', 'second', 60); // written after a's last read
    const seen = firstValueFrom(a.watch(0).pipe(take(2), toArray()));
    const keys = (await seen).flatMap((u) => (u.kind === 'changes' ? u.changes.map((c) => (c.type === 'put' ? c.entry.key : c.key)) : []));
    expect(keys).toEqual(['10.1.2.0-24', '10.1.3.0-24']);
  });

  it('expires a lease when its TTL runs out, and keeps reservations', async () => {
    const a = open();
    await a.create('10.1.3.0-24', 'short', 1);
    await a.update('10.1.4.0-24', 'reserved', 0);
    const b = open();
    const deleted = firstValueFrom(b.watch((await b.list()).revision).pipe(filter((u) => u.kind === 'changes' && u.changes.some((c) => c.type === 'delete'))));
    const update = await deleted;
    expect(update.kind === 'changes' && update.changes[0]).toMatchObject({ type: 'delete', key: '10.1.3.0-24' });
    expect((await b.list()).entries.map((e) => [e.key, e.reservation])).toEqual([['10.1.4.0-24', true]]);
  });
});

describe('EmbeddedRegistry: a corrupt record (fail closed)', () => {
  it('refuses creates and takeovers with an error that names the file, the line and the repair, and logs the record once', async () => {
    const a = open();
    await a.create('10.1.2.0-24', '{"PublicIP":"192.0.2.1"}', 60);
    await a.create('10.1.3.0-24', '{"PublicIP":"192.0.2.2"}', 60);
    corruptInPlace('192.0.2.1', '192.0.2.9');
    const logger = new RecordingLogger();
    const c = open(logger);
    const refused = c.create('10.1.2.0-24', '{"PublicIP":"192.0.2.3"}', 60);
    await expect(refused).rejects.toThrow(UserError);
    await expect(refused).rejects.toThrow(
      `--embedded-store-path: ${storePath()} holds a corrupt record at line 2 (byte 1: checksum mismatch); it may have given a subnet to a node that still holds it, so no lease is created or taken over until it is repaired; stop and look: delete that line (sed -i '2d' ${storePath()}) or the whole file`,
    );
    await expect(c.update('10.1.3.0-24', '{"PublicIP":"192.0.2.2"}', 60)).rejects.toThrow(/holds a corrupt record at line 2/);
    expect(logger.entries.filter((e) => e.level === 'error')).toEqual([
      {
        level: 'error',
        msg: 'corrupt record in the embedded store: no lease will be created or taken over until it is repaired',
        obj: { file: storePath(), line: 2, offset: 1, reason: 'checksum mismatch' },
      },
    ]);
    // The file holds no record of the refused writes, and the one subnet has one holder in every view.
    expect(readFileSync(storePath(), 'utf8')).not.toContain('192.0.2.3');
    expect((await a.list()).entries.map((e) => e.key)).toEqual(['10.1.2.0-24', '10.1.3.0-24']);
  });

  it('lets a running node renew its own lease (compare-and-swap) while the log is corrupt', async () => {
    const a = open();
    await a.create('10.1.2.0-24', 'A', 60);
    await a.create('10.1.3.0-24', 'B', 60);
    corruptInPlace('"B"', '"Q"');
    const renewed = await a.updateIf('10.1.2.0-24', 'A', 'A', 60);
    expect(renewed).toMatchObject({ key: '10.1.2.0-24', value: 'A' });
    expect((await open().get('10.1.2.0-24'))?.value).toBe('A');
  });

  it("stops a new node taking a subnet whose record is corrupt, and after the repair gives the owner's lease back to it", async () => {
    const ownerRegistry = open();
    const owner = new StoreSubnetManager(ownerRegistry, new RecordingLogger(), { renewMarginMinutes: 60 });
    const lease = await owner.acquireLease(attrs('192.0.2.1'), signal);
    corruptInPlace('192.0.2.1', '192.0.2.7');

    const newcomer = new StoreSubnetManager(open(), new RecordingLogger(), { renewMarginMinutes: 60, previousSubnet: lease.subnet! });
    await expect(newcomer.acquireLease(attrs('192.0.2.2'), signal)).rejects.toThrow(/holds a corrupt record at line 2/);

    // The repair the error names: the line deleted (sed -i writes a new file and renames it over the old one).
    const updates: RegistryUpdate[] = [];
    const sub = ownerRegistry.watch((await ownerRegistry.list()).revision).subscribe((u) => updates.push(u));
    const lines = readFileSync(storePath(), 'utf8').split('\n');
    writeFileSync(`${storePath()}.tmp`, lines.filter((_, i) => i !== 1).join('\n'), { mode: 0o600 });
    renameSync(`${storePath()}.tmp`, storePath());
    await ownerRegistry.list();
    sub.unsubscribe();
    expect(updates).toEqual([{ kind: 'reset', entries: [], revision: expect.any(Number) }]);
    const back = await owner.reassertLease(lease, signal);
    expect(String(back.subnet)).toBe(String(lease.subnet));
    const other = await newcomer.acquireLease(attrs('192.0.2.2'), signal);
    expect(String(other.subnet)).not.toBe(String(lease.subnet));
  });
});

describe('EmbeddedRegistry: failed writes', () => {
  it('treats a short write as a failed create: an error, and nobody holds the key', async () => {
    const short = open(new RecordingLogger(), { write: (fd, data) => writeSync(fd, data.subarray(0, data.length - 20)) });
    await expect(short.create('10.1.2.0-24', 'A', 60)).rejects.toThrow(
      /^short write to the embedded store .*leases\.jsonl: \d+ of \d+ bytes \(is the disk full\?\)/,
    );
    const logger = new RecordingLogger();
    const b = open(logger);
    expect(await b.create('10.1.2.0-24', 'B', 60)).toMatchObject({ value: 'B' });
    expect((await short.get('10.1.2.0-24'))?.value).toBe('B');
    expect(logger.messages('warn')).toEqual(['skipping a record of the embedded store cut short by an interrupted write']);
  });
});

import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstValueFrom, filter, take, toArray } from 'rxjs';
import { RecordingLogger } from '../../testing/recording-logger.js';
import { EmbeddedRegistry } from './embedded-registry.js';
import { LeaseLog } from './lease-log.js';

let dir: string;
const opened: EmbeddedRegistry[] = [];
const open = () => {
  const r = new EmbeddedRegistry(join(dir, 'store', 'leases.jsonl'), join(dir, 'net-conf.json'), new RecordingLogger());
  opened.push(r);
  return r;
};

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fts-embedded-'));
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((r) => r.close()));
  rmSync(dir, { recursive: true, force: true });
});

describe('LeaseLog', () => {
  it('lets exactly one of two writers create a key, and both agree on which', () => {
    const path = join(dir, 'log');
    const a = new LeaseLog(path);
    const b = new LeaseLog(path);
    a.append({ op: 'create', key: 'k', value: 'A', exp: null, at: 1, id: 'a' });
    b.append({ op: 'create', key: 'k', value: 'B', exp: null, at: 1, id: 'b' });
    a.refresh();
    b.refresh();
    expect(a.get('k')?.id).toBe('a');
    expect(b.get('k')?.value).toBe('A');
    a.close();
    b.close();
  });

  it('lets a create take a key whose TTL ran out, and ignores a stale expire', () => {
    const log = new LeaseLog(join(dir, 'log'));
    log.append({ op: 'create', key: 'k', value: 'old', exp: 100, at: 1, id: 'x' });
    log.append({ op: 'create', key: 'k', value: 'new', exp: 500, at: 200, id: 'y' });
    log.append({ op: 'expire', key: 'k', at: 300, id: 'x' });
    log.refresh();
    expect(log.get('k')?.value).toBe('new');
    expect(log.live(250).map((e) => e.value)).toEqual(['new']);
    expect(log.live(600)).toEqual([]);
    log.close();
  });

  it('survives a record torn by a crash: the next record still applies', () => {
    const path = join(dir, 'log');
    const log = new LeaseLog(path);
    appendFileSync(path, '\n{"op":"create","key":"k1","va');
    log.append({ op: 'put', key: 'k2', value: 'v', exp: null, at: 1, id: 'z' });
    log.refresh();
    expect(log.get('k2')?.value).toBe('v');
    expect(log.malformed).toBe(1);
    log.close();
  });
});

describe('EmbeddedRegistry', () => {
  it('reads the network config from the net-conf file, and says where it looked', async () => {
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

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { RUN_PREFIX } from '../harness/netns.js';

const run = promisify(execFile);
const script = fileURLToPath(new URL('../fixtures/embedded-acquire.mjs', import.meta.url));
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), `${RUN_PREFIX}embedded-`));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('embedded store across processes', () => {
  it('gives 8 simultaneous acquirers distinct subnets of the 7 there are, and the 8th a clear error', async () => {
    const store = join(dir, 'leases.jsonl');
    const conf = join(dir, 'net-conf.json');
    // /26 in /29s: 8 subnets, the first skipped by SubnetMin, so 7 to hand out.
    writeFileSync(conf, '{"Network":"10.9.0.0/26","SubnetLen":29,"Backend":{"Type":"vxlan"}}');
    const startAt = Date.now() + 1500;
    const outs = await Promise.all(
      Array.from({ length: 8 }, (_, i) => run('node', [script, store, conf, `192.0.2.${i + 1}`, String(startAt)])),
    );
    const results = outs.map((o) => JSON.parse(o.stdout) as { subnet?: string; error?: string });
    const subnets = results.flatMap((r) => (r.subnet ? [r.subnet] : []));
    expect(new Set(subnets).size).toBe(7);
    expect(subnets.every((s) => s.startsWith('10.9.0.') && s.endsWith('/29') && s !== '10.9.0.0/29')).toBe(true);
    expect(results.filter((r) => r.error).map((r) => r.error)).toEqual([
      'Network: out of subnets: every subnet of 10.9.0.0/26 is leased or reserved (7 keys); delete stale leases or widen the network (or SubnetMin/SubnetMax)',
    ]);
    // The log shows the race: more create records than winners.
    const creates = readFileSync(store, 'utf8').split('\n').filter((l) => l.includes('"op":"create"'));
    expect(creates.length).toBeGreaterThanOrEqual(7);
  }, 30_000);
});

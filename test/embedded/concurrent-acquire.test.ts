// Several processes acquiring leases from one embedded store at once: they must agree on who won each subnet
// from the order of the shared log alone. The acquirers are held at a barrier after listing the store, so
// that they really race (see test/fixtures/embedded-acquire.mjs), and the log is read back to show it.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RUN_PREFIX } from '../harness/netns.js';
import { startProcess, stopAllProcesses, waitForExit, waitForOutput, type Started } from '../harness/processes.js';
import { DEADLINE } from '../harness/wait.js';

const script = fileURLToPath(new URL('../fixtures/embedded-acquire.mjs', import.meta.url));
const ACQUIRERS = 8;
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), `${RUN_PREFIX}embedded-`));
});
afterAll(async () => {
  await stopAllProcesses();
  rmSync(dir, { recursive: true, force: true });
});

interface CreateRecord {
  op: 'create';
  key: string;
  value: string;
}

describe('embedded store across processes', () => {
  it(
    'gives 8 acquirers racing for 7 subnets one each, and the 8th a clear error, as the log order decides',
    async () => {
      const store = join(dir, 'leases.jsonl');
      const conf = join(dir, 'net-conf.json');
      const barrier = join(dir, 'go');
      // /26 in /29s: 8 subnets, the first skipped by SubnetMin, so 7 to hand out.
      writeFileSync(conf, '{"Network":"10.9.0.0/26","SubnetLen":29,"Backend":{"Type":"vxlan"}}');
      const ips = Array.from({ length: ACQUIRERS }, (_, i) => `192.0.2.${i + 1}`);
      const acquirers: Started[] = ips.map((ip) => startProcess('node', [script, store, conf, ip, barrier]));
      await Promise.all(acquirers.map((p, i) => waitForOutput(p, (o) => o.includes('"waiting"'), DEADLINE.readyMs, `acquirer ${ips[i]} at the barrier`)));
      // Every acquirer has listed an empty store and picked a subnet; none has created anything yet.
      expect(readFileSync(store, 'utf8').trim()).toBe('');
      writeFileSync(barrier, '');
      const codes = await Promise.all(acquirers.map((p, i) => waitForExit(p, DEADLINE.readyMs, `acquirer ${ips[i]}`)));
      expect(codes).toEqual(ips.map(() => 0));

      const results = acquirers.map((p) => JSON.parse(p.stdout().trim().split('\n').pop()!) as { subnet?: string; error?: string });
      const subnetOf = new Map(ips.map((ip, i) => [ip, results[i]!.subnet]));
      const subnets = results.flatMap((r) => (r.subnet ? [r.subnet] : []));
      expect(new Set(subnets).size).toBe(7);
      expect(subnets.every((s) => s.startsWith('10.9.0.') && s.endsWith('/29') && s !== '10.9.0.0/29')).toBe(true);
      expect(results.filter((r) => r.error).map((r) => r.error)).toEqual([
        'Network: out of subnets: every subnet of 10.9.0.0/26 is leased or reserved (7 keys); delete stale leases or widen the network (or SubnetMin/SubnetMax)',
      ]);

      // Replay the log: a create takes its key only if the key is still free at that point of the file.
      const records = readFileSync(store, 'utf8')
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l) as { op: string });
      expect(records.every((r) => r.op === 'create')).toBe(true);
      const creates = records as CreateRecord[];
      const ipOf = (r: CreateRecord) => (JSON.parse(r.value) as { PublicIP: string }).PublicIP;
      const keySubnet = (key: string) => key.replace('-', '/');
      const winner = new Map<string, string>();
      const lost: CreateRecord[] = [];
      for (const r of creates) {
        if (winner.has(r.key)) lost.push(r);
        else winner.set(r.key, ipOf(r));
      }
      // Every acquirer's first create was decided on the empty listing, so all 8 appear in the log; 8 picks
      // among 7 subnets must collide, so at least one create lost to another process's earlier one.
      expect(new Set(creates.map(ipOf)).size).toBe(ACQUIRERS);
      expect(lost.length).toBeGreaterThanOrEqual(1);
      for (const r of lost) expect(ipOf(r)).not.toBe(winner.get(r.key));
      // Each process holds exactly what the log order gave it, and no loser kept the subnet it lost.
      expect(new Map([...winner].map(([key, ip]) => [ip, keySubnet(key)]))).toEqual(new Map([...subnetOf].filter(([, s]) => s !== undefined)));
      for (const r of lost) expect(subnetOf.get(ipOf(r))).not.toBe(keySubnet(r.key));
    },
    DEADLINE.setupMs,
  );
});

// Failures 4 and 8 of issue 19, on the real CLI with the embedded store and vxlan:
// - garbage over a node's create record: a new node is refused (exit 1, an error naming the file, the line and
//   the repair) instead of being handed that subnet; the running nodes keep their routes; after the repair the
//   owner writes its lease back and the new node gets another subnet;
// - a store that is a symbolic link, writable by others, in a directory others can write, or another user's
//   file, is refused with an error naming the path and the fix.
import { jest } from '@jest/globals';
import { chmodSync, chownSync, closeSync, copyFileSync, mkdirSync, openSync, readFileSync, rmSync, symlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { sh } from '../harness/netns.js';
import { startProcess, waitForExit, type Started } from '../harness/processes.js';
import { FLANNELD, tearDown, type Topology, type TopologyNode } from '../harness/topology.js';
import { DEADLINE, waitFor } from '../harness/wait.js';
import { flannelRoutes, logLines, result, twoOfThreeRunning, VXLAN_NET_CONF, waitForLog } from './chaos.js';

jest.setTimeout(DEADLINE.setupMs);

let topo: Topology;
let n1: TopologyNode;
let n2: TopologyNode;
let n3: TopologyNode;

beforeAll(async () => {
  ({
    topo,
    nodes: [n1, n2, n3],
  } = await twoOfThreeRunning({ store: 'embedded', netConf: VXLAN_NET_CONF, tag: 'es' }));
}, DEADLINE.setupMs);

afterAll(() => tearDown([topo]));

/** Runs flanneld on node3 with these extra flags and returns its exit code and output once it exits. */
async function runToExit(extra: string[]): Promise<{ code: number | string; out: string; p: Started }> {
  const p = startProcess('node', [FLANNELD, ...topo.flanneldArgs(n3), ...extra], { netns: n3.ns });
  const code = await waitForExit(p, DEADLINE.readyMs, 'flanneld on node3');
  return { code, out: p.output(), p };
}

/** The 1-based line of the store that holds `node`'s create record, and that line's byte offset. */
function createRecordOf(node: TopologyNode): { line: number; offset: number; length: number } {
  const text = readFileSync(topo.storePath, 'utf8');
  const key = topo.leaseSubnet(node).replace('/', '-');
  const lines = text.split('\n');
  const i = lines.findIndex((l) => l.includes('"op":"create"') && l.includes(`"key":"${key}"`) && l.includes(node.ip));
  expect(i).toBeGreaterThanOrEqual(0);
  const offset = Buffer.byteLength(lines.slice(0, i).join('\n')) + 1;
  return { line: i + 1, offset, length: Buffer.byteLength(lines[i]!) };
}

describe('a corrupt record in the embedded store', () => {
  it("refuses a new node rather than hand it the subnet the record held, and after the repair the owner's lease comes back", async () => {
    await topo.waitConverged();
    const s1 = topo.leaseSubnet(n1);
    // Garbage over the middle of n1's create record, newlines left alone: what a bad sector or a stray write does.
    const rec = createRecordOf(n1);
    const fd = openSync(topo.storePath, 'r+');
    writeSync(fd, Buffer.alloc(40, '#'), 0, 40, rec.offset + 30);
    closeSync(fd);

    const refused = await runToExit([]);
    expect(refused.code).toBe(1);
    const said = logLines(refused.p);
    expect(said.filter((l) => l.msg === 'corrupt record in the embedded store: no lease will be created or taken over until it is repaired')).toEqual([
      expect.objectContaining({ file: topo.storePath, line: rec.line, offset: rec.offset, reason: 'checksum mismatch' }),
    ]);
    expect(said.map((l) => l.msg)).toContain(
      `--embedded-store-path: ${topo.storePath} holds a corrupt record at line ${rec.line} (byte ${rec.offset}: checksum mismatch); it may have given a subnet to a node that still holds it, so no lease is created or taken over until it is repaired; stop and look: delete that line (sed -i '${rec.line}d' ${topo.storePath}) or the whole file; every running flanneld then reads the file again and writes back a lease of its own that went missing`,
    );
    // Nothing was written for node3, and the running nodes did not notice anything.
    expect(readFileSync(topo.storePath, 'utf8')).not.toContain(`"PublicIP\\":\\"${n3.ip}\\"`);
    expect(topo.isRunning(n1) && topo.isRunning(n2)).toBe(true);
    expect(flannelRoutes(n2)).toContain(s1);
    expect(topo.pingMatrix().filter((p) => !p.ok)).toEqual([]);

    // The repair the error names. Every running flanneld reads the new file from scratch; n1 writes its lease back.
    const t0 = Date.now();
    sh('sed', ['-i', `${rec.line}d`, topo.storePath]);
    await waitForLog(n1.flanneld!, (l) => l.msg === 'our lease had vanished from the store (wiped or restored?); wrote it back', 'n1 writing its lease back');
    result('embedded_repair_lease_back_ms', Date.now() - t0);
    await waitForLog(n2.flanneld!, (l) => l.msg === 'the embedded store file changed under us; read it again from the start', 'n2 reading the file again');
    expect(await waitFor(() => flannelRoutes(n2).includes(s1), DEADLINE.convergeMs)).toBe(true);
    result('embedded_repair_routes_back_ms', Date.now() - t0);
    expect(topo.leaseSubnet(n1)).toBe(s1);

    await topo.startFlanneld(n3);
    topo.addPod(n3);
    expect(new Set([s1, topo.leaseSubnet(n2), topo.leaseSubnet(n3)]).size).toBe(3);
    await topo.waitConverged();
    expect(await waitFor(() => topo.pingMatrix().every((p) => p.ok), DEADLINE.convergeMs)).toBe(true);
  });
});

describe('a store file others could write', () => {
  const refuse = async (path: string, message: string) => {
    const { code, out } = await runToExit([`--embedded-store-path=${path}`]);
    expect(code).toBe(1);
    expect(out).toContain(message);
  };

  it('is refused when it is a symbolic link, writable by others, in a directory others can write, or not ours', async () => {
    const dir = join(topo.dir, 'perm');
    mkdirSync(dir, { mode: 0o700 });
    const copy = join(dir, 'leases.jsonl');
    copyFileSync(topo.storePath, copy);
    chmodSync(copy, 0o600);
    const link = join(dir, 'link.jsonl');
    symlinkSync(copy, link);
    await refuse(
      link,
      `--embedded-store-path: refusing the embedded store ${link}: it is a symbolic link, which could send our writes elsewhere; point --embedded-store-path at the file itself`,
    );
    chmodSync(copy, 0o666);
    await refuse(copy, `--embedded-store-path: refusing the embedded store ${copy}: it is writable by its group and others (mode 0666); chmod 600 ${copy}`);
    chmodSync(copy, 0o600);
    chownSync(copy, 12345, 12345);
    await refuse(copy, `refusing the embedded store ${copy}: it belongs to uid 12345, not to this user (uid 0), who could rewrite our leases; chown 0 ${copy}`);
    const shared = join(topo.dir, 'shared');
    mkdirSync(shared);
    chmodSync(shared, 0o1777);
    await refuse(
      join(shared, 'leases.jsonl'),
      `refusing the embedded store ${join(shared, 'leases.jsonl')}: its directory ${shared} is writable by its group and others (mode 01777), who could replace the file; chmod go-w ${shared}`,
    );
    rmSync(dir, { recursive: true });
  });
});

// Failures 4 (short write) and 6 of issue 19, on the real CLI, with a tiny tmpfs in a private mount namespace
// as the disk (the host's filesystems are never touched):
// - the embedded store on a full disk: the append that comes up short is an error (flanneld exits 1 naming the
//   file), never a lease; once there is room the torn bytes are skipped and the node gets its lease;
// - subnet.env on a read-only, then full disk: retried with backoff, /readyz says why (path and errno), and the
//   node is ready once the disk takes the file.
import { jest } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { sh } from '../harness/netns.js';
import { waitForExit, waitForOutput } from '../harness/processes.js';
import { tearDown, Topology, type TopologyNode } from '../harness/topology.js';
import { DEADLINE } from '../harness/wait.js';
import { logLines, result, tinyDisk, VXLAN_NET_CONF, waitForLog } from './chaos.js';

jest.setTimeout(DEADLINE.setupMs);

const PAGE = 4096;
let topo: Topology;
let node: TopologyNode;
const disks: { stop(): Promise<void> }[] = [];

beforeAll(async () => {
  topo = await Topology.create({ nodes: 1, store: 'embedded', netConf: VXLAN_NET_CONF, tag: 'fd' });
  node = topo.nodes[0]!;
}, DEADLINE.setupMs);

afterEach(async () => {
  await topo.stopFlanneld(node);
  for (const d of disks.splice(0)) await d.stop();
});

afterAll(() => tearDown([topo]));

/** One framed, checksummed store record (a no-op delete of a padding key) that makes the file exactly `size` bytes. */
function storeOfSize(size: number): string {
  const frame = (key: string) => {
    const json = JSON.stringify({ op: 'delete', key, at: 1, id: 'pad' });
    return `\n${json.slice(0, -1)},"crc":"${crc32(json).toString(16).padStart(8, '0')}"}\n`;
  };
  const pad = 'p'.repeat(size - frame('').length);
  const text = frame(pad);
  expect(Buffer.byteLength(text)).toBe(size);
  return text;
}

describe('the embedded store on a full disk', () => {
  it('reports the short append as an error naming the file, and skips its torn bytes once there is room', async () => {
    const dir = join(topo.dir, 'store-disk');
    const disk = await tinyDisk(dir, 256);
    disks.push(disk);
    const store = join(dir, 'leases.jsonl');
    // The store ends 60 bytes before a page boundary (the torn line starts after the record's leading newline) and every other page is taken: the next record (a lease,
    // ~250 bytes) fits only in part, so write() returns less than asked.
    const prepared = join(topo.dir, 'prepared.jsonl');
    writeFileSync(prepared, storeOfSize(PAGE - 60), { mode: 0o600 });
    disk.run('cp', '--preserve=mode', prepared, store);
    disk.run('sh', '-c', `dd if=/dev/zero of='${dir}/fill' bs=4096 2>/dev/null; true`);

    const first = disk.startFlanneld(topo, node, [`--embedded-store-path=${store}`]);
    expect(await waitForExit(first, DEADLINE.readyMs, 'flanneld on a full disk')).toBe(1);
    const m = new RegExp(`short write to the embedded store ${store}: (\\d+) of (\\d+) bytes \\(is the disk full\\?\\); the record was not stored`).exec(
      first.output(),
    );
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBe(60);
    expect(Number(m![2])).toBeGreaterThan(60);

    disk.run('rm', `${dir}/fill`);
    const t0 = Date.now();
    const second = disk.startFlanneld(topo, node, [`--embedded-store-path=${store}`]);
    await waitForOutput(second, (o) => o.includes('flannel is ready'), DEADLINE.readyMs, 'flanneld once there is room');
    result('full_disk_store_ready_after_room_ms', Date.now() - t0);
    expect(logLines(second).some((l) => l.msg === 'skipping a record of the embedded store cut short by an interrupted write' && l.offset === PAGE - 59)).toBe(
      true,
    );
    expect(logLines(second).some((l) => /corrupt/.test(l.msg))).toBe(false);
    expect(disk.run('cat', store)).toContain(`\\"PublicIP\\":\\"${node.ip}\\"`);
  });
});

describe('subnet.env on a read-only, then full disk', () => {
  it('retries with backoff, says why in /readyz, and is ready once the file can be written', async () => {
    const dir = join(topo.dir, 'env-disk');
    const disk = await tinyDisk(dir, 64);
    disks.push(disk);
    const subnetFile = join(dir, 'subnet.env');
    // Full first, then read-only. Mount flags belong to each mount namespace, and flanneld runs in a copy of
    // the disk's: its own is remounted through its PID, the disk's through the disk.
    disk.run('sh', '-c', `dd if=/dev/zero of='${dir}/fill' bs=4096 2>/dev/null; true`);
    disk.run('mount', '-o', 'remount,ro', dir);
    const p = disk.startFlanneld(topo, node, [`--subnet-file=${subnetFile}`]);
    await waitForLog(p, (l) => l.msg === 'cannot write the subnet file; retrying' && /EROFS/.test(String(l.err)), 'a read-only disk', DEADLINE.readyMs);
    expect(topo.httpGet(node, '/readyz')).toMatch(new RegExp(`^503 [\\s\\S]*cannot write ${subnetFile}[^\\n]*EROFS`));

    sh('nsenter', ['-t', String(p.child.pid), '-m', '--', 'mount', '-o', 'remount,rw', dir]);
    await waitForLog(p, (l) => l.msg === 'cannot write the subnet file; retrying' && /ENOSPC/.test(String(l.err)), 'a full disk', DEADLINE.readyMs);
    expect(topo.httpGet(node, '/readyz')).toMatch(new RegExp(`^503 [\\s\\S]*cannot write ${subnetFile}[^\\n]*ENOSPC`));
    const retries = logLines(p)
      .filter((l) => l.msg === 'cannot write the subnet file; retrying')
      .map((l) => l.retryInMs as number);
    expect(retries.length).toBeGreaterThanOrEqual(2);
    expect(retries[1]!).toBeGreaterThan(retries[0]!); // backing off

    disk.run('mount', '-o', 'remount,rw', dir);
    disk.run('rm', `${dir}/fill`);
    const t0 = Date.now();
    await waitForOutput(p, (o) => o.includes('flannel is ready'), DEADLINE.readyMs, 'ready once the disk has room');
    result('subnet_env_ready_after_room_ms', Date.now() - t0);
    expect(topo.httpGet(node, '/readyz')).toMatch(/^200 /);
    expect(disk.run('cat', subnetFile)).toMatch(/^FLANNEL_NETWORK=10\.244\.0\.0\/16$/m);
  });
});

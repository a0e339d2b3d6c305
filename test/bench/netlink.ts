// npm run bench -- netlink
// Adds then deletes 5,000 routes in a fresh namespace three ways: our library in batches, `ip -batch`
// with the same operations, and our library one request at a time. Also the event loop's worst delay
// while the batched run goes on, and the time per route of listing the 5,000 (a resync reads every entry
// it owns).
import { writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { IP, IPNet } from '@flannel-ts/core';
import { NetlinkHandle, requests, type Route } from '@flannel-ts/core/netlink';
import { addUnderlay, cleanupNetns, createNetns, ipIn, sh } from '../harness/netns.js';

const N = 5000;
const ROUNDS = 3;
/** Listings of the N routes per round. */
const DUMPS = 10;

const dst = (i: number) => IPNet.parse(`100.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`);

/** The worst event-loop delay between now and stop(), in ms. */
function watchLoop(): { stop(): number } {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  return {
    stop() {
      h.disable();
      return h.max / 1e6;
    },
  };
}

async function main(): Promise<void> {
  const ns = createNetns('bench-nl');
  try {
    addUnderlay(ns, '198.18.0.1/24');
    const h = NetlinkHandle.open({ netns: ns });
    const eth0 = (await h.linkByName('eth0'))!.index;
    const routes: Route[] = Array.from({ length: N }, (_, i) => ({ dst: dst(i), gw: IP.parse('198.18.0.2'), linkIndex: eth0 }));
    const routeCount = () => ipIn(ns, 'route', 'show').trim().split('\n').length;

    const batched: number[] = [];
    const ipBatch: number[] = [];
    const single: number[] = [];
    const dumpUs: number[] = [];
    let maxDelayMs = 0;

    const dir = join(tmpdir(), `${ns}-batch`);
    sh('mkdir', ['-p', dir]);
    const addFile = join(dir, 'add');
    const delFile = join(dir, 'del');
    writeFileSync(addFile, routes.map((r) => `route add ${r.dst} via 198.18.0.2 dev eth0\n`).join(''));
    writeFileSync(delFile, routes.map((r) => `route del ${r.dst} via 198.18.0.2 dev eth0\n`).join(''));

    for (let round = 0; round < ROUNDS; round++) {
      // Library, batched, with the event loop watched (the checks with `ip` block it, so they stay outside).
      const addLoop = watchLoop();
      let t = process.hrtime.bigint();
      const added = await h.apply(routes.map(requests.routeAdd));
      const addNs = process.hrtime.bigint() - t;
      maxDelayMs = Math.max(maxDelayMs, addLoop.stop());
      if (routeCount() < N) throw new Error('batched add left routes out');
      t = process.hrtime.bigint();
      for (let k = 0; k < DUMPS; k++) if ((await h.routeList(4)).length < N) throw new Error('a listing left routes out');
      dumpUs.push(Number(process.hrtime.bigint() - t) / 1000 / (DUMPS * N));
      const delLoop = watchLoop();
      t = process.hrtime.bigint();
      const deleted = await h.apply(routes.map(requests.routeDel));
      batched.push(Number(addNs + process.hrtime.bigint() - t) / 1000 / (2 * N));
      maxDelayMs = Math.max(maxDelayMs, delLoop.stop());
      if (routeCount() > 1) throw new Error('batched delete left routes behind');
      const failed = [...added, ...deleted].filter(Boolean);
      if (failed.length > 0) throw new Error(`batched run: ${failed.length} failures, first: ${failed[0]!.message}`);

      // ip -batch, same operations.
      t = process.hrtime.bigint();
      sh('ip', ['-n', ns, '-batch', addFile]);
      sh('ip', ['-n', ns, '-batch', delFile]);
      ipBatch.push(Number(process.hrtime.bigint() - t) / 1000 / (2 * N));

      // Library, one request and ack at a time.
      t = process.hrtime.bigint();
      for (const r of routes) await h.routeAdd(r);
      for (const r of routes) await h.routeDel(r);
      single.push(Number(process.hrtime.bigint() - t) / 1000 / (2 * N));
    }
    rmSync(dir, { recursive: true, force: true });
    h.close();

    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const x = median(batched);
    const y = median(ipBatch);
    console.log(`RESULT netlink_batched_us_per_op=${x.toFixed(2)}`);
    console.log(`RESULT ip_batch_us_per_op=${y.toFixed(2)}`);
    console.log(`RESULT netlink_vs_ip_batch_ratio=${(x / y).toFixed(2)}`);
    console.log(`RESULT netlink_single_us_per_op=${median(single).toFixed(2)}`);
    console.log(`RESULT event_loop_max_delay_ms=${maxDelayMs.toFixed(1)}`);
    console.log(`RESULT netlink_dump_us_per_route=${median(dumpUs).toFixed(2)}`);
  } finally {
    cleanupNetns();
  }
}

await main();

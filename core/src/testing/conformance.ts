import { deepStrictEqual, ok, strictEqual } from 'node:assert/strict';
import type { BackendDescriptor } from '../contracts/backend-plugin.js';
import type { Lease } from '../contracts/lease.js';
import { loadNetConfig } from '../config/net-conf.js';
import { DEFAULT_TIMING } from '../reconcile/reconciler.js';
import { settle } from './fake-clock.js';
import type { FakeNetlink } from './fake-netlink.js';
import { testBackendContext, type TestBackendContext } from './test-backend-context.js';

export interface ConformanceOptions {
  /** The net-conf the backend runs with; default: 10.244.0.0/16, Backend.Type = the descriptor's name. */
  netConf?: string;
  /** A peer lease this backend programs: the n-th peer (n = 2, 3, …), with its BackendData. */
  peer(n: number): Lease;
  /** How long after a kernel change the backend has repaired it (default: one engine resync period). */
  repairMs?: number;
}

export interface ConformanceCase {
  name: string;
  run(): Promise<void>;
}

/**
 * The behaviour every backend that programs the kernel per peer owes flanneld, as test cases over the
 * fakes (no root): it registers a network and takes a lease of its own type, programs a peer and removes
 * it again, comes back after a restart with the same lease and entries, repairs an entry someone deleted,
 * and stops cleanly. Run them with your test framework, e.g. `it.each(backendConformance(backend, o).map(c => [c.name, c]))`.
 */
export function backendConformance(descriptor: BackendDescriptor, o: ConformanceOptions): ConformanceCase[] {
  const netConf = o.netConf ?? JSON.stringify({ Network: '10.244.0.0/16', Backend: { Type: descriptor.name } });
  const repairMs = o.repairMs ?? DEFAULT_TIMING.resyncMs + DEFAULT_TIMING.minGapMs;

  const start = async (ctx: TestBackendContext = testBackendContext(loadNetConfig(netConf))) => {
    const config = loadNetConfig(netConf);
    const backend = await descriptor.create(ctx);
    const network = await backend.registerNetwork(config, AbortSignal.timeout(30_000));
    const stop = new AbortController();
    const running = network.run(stop.signal);
    await settle();
    return { ctx, network, stop, running, config };
  };
  const finish = async (t: { stop: AbortController; running: Promise<void> }) => {
    t.stop.abort();
    await t.running;
  };

  return [
    {
      name: 'registers a network with a lease of its own type inside the network',
      async run() {
        const t = await start();
        strictEqual(t.network.lease.attrs.backendType, descriptor.name, "the lease's BackendType is the descriptor's name");
        ok(t.network.lease.subnet && t.config.network?.contains(t.network.lease.subnet.ip), 'the lease lies inside the network');
        ok(Number.isInteger(t.network.mtu) && t.network.mtu > 0 && t.network.mtu <= t.ctx.extIface.iface.mtu, `MTU ${t.network.mtu} is within the interface's`);
        await finish(t);
      },
    },
    {
      name: 'programs a peer, and removes exactly what it programmed when the peer leaves',
      async run() {
        const t = await start();
        const before = kernelState(t.ctx.netlink);
        const peer = o.peer(2);
        t.ctx.subnetManager.putLease(peer);
        await settle();
        const programmed = kernelState(t.ctx.netlink);
        ok(added(before, programmed).length > 0, 'a peer lease put something into the kernel');
        const stats = t.network.stats?.();
        if (stats) deepStrictEqual({ peers: stats.peers, skippedPeers: stats.skippedPeers }, { peers: 1, skippedPeers: 0 });
        t.ctx.subnetManager.deleteLease(peer.subnet!);
        await settle();
        deepStrictEqual(peerEntries(kernelState(t.ctx.netlink)), peerEntries(before), 'the kernel is as before the peer came');
        await finish(t);
      },
    },
    {
      name: 'comes back after a restart with the same lease and the same entries',
      async run() {
        const first = await start();
        first.ctx.subnetManager.putLease(o.peer(2));
        await settle();
        const programmed = peerEntries(kernelState(first.ctx.netlink));
        await finish(first);
        const second = await start(first.ctx);
        strictEqual(String(second.network.lease.subnet), String(first.network.lease.subnet), 'the same subnet after a restart');
        await second.ctx.clock.advance(DEFAULT_TIMING.minGapMs);
        deepStrictEqual(peerEntries(kernelState(second.ctx.netlink)), programmed, 'the same entries after a restart');
        await finish(second);
      },
    },
    {
      name: 'puts back an entry someone deleted',
      async run() {
        const t = await start();
        const before = kernelState(t.ctx.netlink);
        t.ctx.subnetManager.putLease(o.peer(2));
        await settle();
        const programmed = kernelState(t.ctx.netlink);
        await deleteEntries(added(before, programmed));
        await t.ctx.clock.advance(repairMs);
        deepStrictEqual(peerEntries(kernelState(t.ctx.netlink)), peerEntries(programmed), 'the deleted entries are back');
        await finish(t);
      },
    },
    {
      name: 'stops when aborted, leaving nothing waiting',
      async run() {
        const t = await start();
        t.ctx.subnetManager.putLease(o.peer(2));
        await settle();
        await finish(t);
        strictEqual(t.ctx.clock.waiting, 0, 'no timer of the backend is still waiting');
      },
    },
  ];
}

type KernelState = Map<string, () => Promise<void>>;

/** Every route, neighbour, FDB entry, nexthop, wireguard peer and XFRM policy in the fake kernel, each with a way to delete it. */
function kernelState(nl: FakeNetlink): KernelState {
  const state: KernelState = new Map();
  for (const [index, dev] of nl.wgDevices) {
    for (const [key, p] of dev.peers) {
      const endpoint = p.endpoint ? `${p.endpoint.ip}:${p.endpoint.port}` : '-';
      state.set(`wgpeer ${index} ${key} ${endpoint} ${p.allowedIPs.join(',')}`, () =>
        nl.wgSetDevice({ device: index, peers: [{ publicKey: p.publicKey, remove: true }] }),
      );
    }
  }
  for (const r of nl.routes.values()) state.set(`route ${r.table} ${r.dst} ${r.nhid ?? `${r.gw} ${r.linkIndex}`}`, () => nl.routeDel(r));
  for (const n of nl.neighs.values()) state.set(`neigh ${n.linkIndex} ${n.ip} ${n.mac}`, () => nl.neighDel(n));
  for (const f of nl.fdbs.values()) state.set(`fdb ${f.linkIndex} ${f.mac} ${f.dst}`, () => nl.fdbDel(f));
  for (const h of nl.nexthops.values()) state.set(`nexthop ${h.id} ${h.gw} ${h.linkIndex}`, () => nl.nexthopDel(h.id));
  for (const p of nl.xfrmPolicies.values()) {
    const tmpls = p.tmpls.map((t) => `${t.src}>${t.dst} ${t.proto} ${t.mode} ${t.reqid}`).join(',');
    state.set(`xfrmpolicy ${p.dir} ${p.src} ${p.dst} ${tmpls}`, () => nl.xfrmPolicyDel({ src: p.src, dst: p.dst, dir: p.dir, mark: p.mark }));
  }
  return state;
}

const peerEntries = (s: KernelState) => [...s.keys()].sort();
const added = (before: KernelState, after: KernelState) => [...after].filter(([k]) => !before.has(k));

async function deleteEntries(entries: [string, () => Promise<void>][]): Promise<void> {
  // Routes first: deleting a nexthop would take its route along, and that is the kernel's doing, not ours.
  for (const [key, del] of entries.sort(([a], [b]) => Number(b.startsWith('route')) - Number(a.startsWith('route')))) {
    await del().catch((err: Error) => {
      throw new Error(`cannot delete ${key}: ${err.message}`);
    });
  }
}

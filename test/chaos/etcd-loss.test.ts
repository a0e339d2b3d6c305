// Failures 2 and 5 of issue 19, on the real CLI with a real etcd and vxlan:
// - etcd wiped while the nodes run (data loss), or restored from an older snapshot: the nodes notice (cluster
//   ID changed, revision went back), write their leases back by compare-and-swap, keep their subnets and
//   routes, and a node that starts afterwards is not handed a subnet someone holds;
// - a restart with a stray second lease carrying our PublicIP: the node comes back on its previous subnet
//   and deletes the stray key.
import { jest } from '@jest/globals';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { deleteNetns, ipIn } from '../harness/netns.js';
import type { Topology, TopologyNode } from '../harness/topology.js';
import { DEADLINE, waitFor } from '../harness/wait.js';
import { convergedForEachCase, flannelRoutes, result, VXLAN_NET_CONF, waitForLog } from './chaos.js';

jest.setTimeout(DEADLINE.setupMs);

let topo: Topology;
let n1: TopologyNode;
let n2: TopologyNode;
let n3: TopologyNode;

/** The subnet keys in etcd and their values (LeaseAttrs JSON). */
async function leases(t: Topology): Promise<Map<string, string>> {
  const out = JSON.parse(await t.etcdctl('get', '--prefix', `${t.etcdPrefix}/subnets/`, '-w', 'json')) as { kvs?: { key: string; value: string }[] };
  const b64 = (s: string) => Buffer.from(s, 'base64').toString();
  return new Map((out.kvs ?? []).map((kv) => [b64(kv.key).slice(`${t.etcdPrefix}/subnets/`.length), b64(kv.value)]));
}
const keyOf = (subnet: string) => subnet.replace('/', '-');
const holder = (value: string | undefined) => (value ? (JSON.parse(value) as { PublicIP: string }).PublicIP : undefined);

/**
 * Until stop(): checks every 100 ms that each node routes to the other's subnet. Returns the longest time a
 * route was missing, per pair, and whether it was back at the end.
 */
function watchRoutes(pairs: [TopologyNode, string][]): { stop(): Promise<{ gapMs: number; missing: string[] }> } {
  let running = true;
  let gapMs = 0;
  const lostAt = new Map<string, number>();
  const check = (): void => {
    for (const [node, subnet] of pairs) {
      const what = `${node.name} has no route to ${subnet}`;
      const present = flannelRoutes(node).includes(subnet);
      if (!present && !lostAt.has(what)) lostAt.set(what, Date.now());
      if (present && lostAt.has(what)) {
        gapMs = Math.max(gapMs, Date.now() - lostAt.get(what)!);
        lostAt.delete(what);
      }
    }
  };
  const loop = (async () => {
    while (running) {
      try {
        check();
      } catch {
        return; // the namespaces are gone: the test ended without stopping us
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      check();
      for (const at of lostAt.values()) gapMs = Math.max(gapMs, Date.now() - at);
      return { gapMs, missing: [...lostAt.keys()] };
    },
  };
}

// Each case starts from etcd up and flanneld running on every node, whatever the one before it left.
convergedForEachCase({ nodes: 3, store: 'etcd', netConf: VXLAN_NET_CONF, tag: 'el' }, (t) => {
  topo = t;
  [n1, n2, n3] = t.nodes as [TopologyNode, TopologyNode, TopologyNode];
});

describe('etcd loses its data while the nodes run', () => {
  it('wiped: both nodes write their leases back on the same subnets, keep their routes, and a new node gets another subnet', async () => {
    // node3 leaves for good (lease, subnet.env, pods and bridge gone), to come back as a new node after the wipe.
    await topo.stopFlanneld(n3);
    await topo.etcdctl('del', `${topo.etcdPrefix}/subnets/${keyOf(topo.leaseSubnet(n3))}`);
    for (const pod of n3.pods.splice(0)) deleteNetns(pod.ns);
    ipIn(n3.ns, 'link', 'del', 'cni0');
    rmSync(dirname(n3.subnetFile), { recursive: true, force: true });
    const s1 = topo.leaseSubnet(n1);
    const s2 = topo.leaseSubnet(n2);
    const routes = watchRoutes([
      [n1, s2],
      [n2, s1],
    ]);
    const t0 = Date.now();
    await topo.etcd!.wipe();
    // The operator puts the network config back (from a backup, or as the install did); the leases are for flanneld.
    await topo.etcdctl('put', `${topo.etcdPrefix}/config`, JSON.stringify(VXLAN_NET_CONF));
    const back = await waitFor(
      async () => {
        const l = await leases(topo);
        return holder(l.get(keyOf(s1))) === n1.ip && holder(l.get(keyOf(s2))) === n2.ip;
      },
      DEADLINE.convergeMs * 2,
      100,
    );
    expect(back).toBe(true);
    result('etcd_wipe_leases_back_ms', Date.now() - t0);
    for (const n of [n1, n2]) {
      // Noticed by the probe (another cluster, or the revision went back) or by the watch etcd cancelled; the
      // log lines may reach us after the writes they explain.
      await waitForLog(
        n.flanneld!,
        (l) => l.msg === 'the etcd store was replaced or restored; listing leases again' || l.msg === 'etcd watch lost its place; listing leases again',
        `${n.name} noticing the wipe`,
      );
      await waitForLog(
        n.flanneld!,
        (l) => l.msg === 'our lease had vanished from the store (wiped or restored?); wrote it back',
        `${n.name} writing its lease back`,
      );
    }
    // A node that re-lists before its peer has written its lease back withdraws that peer until it has:
    // the routes may go for a moment, and must come back.
    await topo.waitConverged();
    const wipeRoutes = await routes.stop();
    result('etcd_wipe_route_gap_ms', wipeRoutes.gapMs);
    expect(wipeRoutes.missing).toEqual([]);
    expect([topo.leaseSubnet(n1), topo.leaseSubnet(n2)]).toEqual([s1, s2]);

    await topo.startFlanneld(n3);
    topo.addPod(n3);
    expect(new Set([s1, s2, topo.leaseSubnet(n3)]).size).toBe(3);
    await topo.waitConverged();
    const l = await leases(topo);
    expect([...l.values()].map(holder).sort()).toEqual([n1.ip, n2.ip, n3.ip].sort());
    expect(topo.pingMatrix().filter((p) => !p.ok)).toEqual([]);
    expect([n1, n2, n3].every((n) => topo.isRunning(n))).toBe(true);
  });

  it('restored from an older snapshot: the node that joined after it writes its lease back', async () => {
    const s3 = topo.leaseSubnet(n3);
    await topo.stopFlanneld(n3);
    await topo.etcdctl('del', `${topo.etcdPrefix}/subnets/${keyOf(s3)}`);
    const snapshot = join(topo.dir, 'before-n3.db');
    topo.etcd!.snapshot(snapshot);
    await topo.startFlanneld(n3); // previous subnet from its subnet.env: the same s3
    expect(topo.leaseSubnet(n3)).toBe(s3);
    await topo.waitConverged();
    const routes = watchRoutes([
      [n1, s3],
      [n3, topo.leaseSubnet(n1)],
    ]);
    const t0 = Date.now();
    await topo.etcd!.restore(snapshot); // a revision before n3's lease: n3's key is gone, the revision goes back
    expect(await waitFor(async () => holder((await leases(topo)).get(keyOf(s3))) === n3.ip, DEADLINE.convergeMs * 2, 100)).toBe(true);
    result('etcd_restore_lease_back_ms', Date.now() - t0);
    // Noticed by the probe (the revision went back) or by the watch (etcd cancels one from a future revision).
    // The log line may reach us after the write it explains: wait for it.
    await waitForLog(
      n3.flanneld!,
      (l) => l.msg === 'the etcd store was replaced or restored; listing leases again' || l.msg === 'etcd watch lost its place; listing leases again',
      'node3 noticing the restore',
    );
    await topo.waitConverged();
    const restoreRoutes = await routes.stop();
    result('etcd_restore_route_gap_ms', restoreRoutes.gapMs);
    expect(restoreRoutes.missing).toEqual([]);
    expect(topo.pingMatrix().filter((p) => !p.ok)).toEqual([]);
  });
});

describe('a restart with a stray second lease carrying our PublicIP', () => {
  it('comes back on its previous subnet and deletes the stray key', async () => {
    const s1 = topo.leaseSubnet(n1);
    const value = (await leases(topo)).get(keyOf(s1))!;
    await topo.stopFlanneld(n1);
    const stray = '10.244.250.0-24';
    await topo.etcdctl('put', `${topo.etcdPrefix}/subnets/${stray}`, value);
    const t0 = Date.now();
    await topo.startFlanneld(n1);
    result('stray_lease_restart_ready_ms', Date.now() - t0);
    expect(topo.leaseSubnet(n1)).toBe(s1);
    await waitForLog(
      n1.flanneld!,
      (l) => l.msg === 'another lease carries our public IP; deleting it' && l.subnet === '10.244.250.0/24',
      'the stray lease deleted',
    );
    const l = await leases(topo);
    expect(l.has(stray)).toBe(false);
    expect(holder(l.get(keyOf(s1)))).toBe(n1.ip);
    await topo.waitConverged();
    expect(flannelRoutes(n2)).not.toContain('10.244.250.0/24');
    expect(topo.pingMatrix().filter((p) => !p.ok)).toEqual([]);
  });
});

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LeaseWatchResult } from '../../contracts/lease.js';
import { LeaseRevokedError } from '../../contracts/subnet-manager.js';
import { IP } from '../../ip/ip.js';
import { FakeClock, settle } from '../../testing/fake-clock.js';
import { RecordingLogger } from '../../testing/recording-logger.js';
import { kubeAnnotations } from './annotations.js';
import { resolveNodeName } from './create.js';
import { FakeKubeApi } from './fake-kube-api.js';
import type { KubeNode } from './kube-api.js';
import { KubeSubnetManager } from './kube-subnet-manager.js';

const P = 'flannel.alpha.coreos.com/';
const dir = mkdtempSync(join(tmpdir(), 'kube-sm-'));
const netConf = join(dir, 'net-conf.json');
writeFileSync(netConf, JSON.stringify({ Network: '10.244.0.0/16', Backend: { Type: 'vxlan' } }));

const node = (name: string, cidr: string | undefined, annotations: Record<string, string> = {}): KubeNode => ({
  metadata: { name, annotations },
  spec: cidr ? { podCIDR: cidr, podCIDRs: [cidr] } : {},
});
const peer = (name: string, cidr: string, ip: string, mac = 'aa:bb:cc:dd:ee:01') =>
  node(name, cidr, {
    [`${P}kube-subnet-manager`]: 'true',
    [`${P}backend-type`]: 'vxlan',
    [`${P}public-ip`]: ip,
    [`${P}backend-data`]: JSON.stringify({ VNI: 1, VtepMAC: mac }),
  });
const attrs = { backendType: 'vxlan', publicIP: IP.parse('192.0.2.11'), backendData: { VNI: 1, VtepMAC: '0a:00:00:00:00:01' } };

const dualNetConf = join(dir, 'net-conf-dual.json');
writeFileSync(dualNetConf, JSON.stringify({ Network: '10.244.0.0/16', EnableIPv6: true, IPv6Network: 'fd00:10:244::/56', Backend: { Type: 'vxlan' } }));
const v6OnlyNetConf = join(dir, 'net-conf-v6.json');
writeFileSync(v6OnlyNetConf, JSON.stringify({ EnableIPv4: false, EnableIPv6: true, IPv6Network: 'fd00:10:244::/56', Backend: { Type: 'vxlan' } }));
const dualNode = (name: string, ...cidrs: string[]): KubeNode => ({ metadata: { name, annotations: {} }, spec: { podCIDR: cidrs[0]!, podCIDRs: cidrs } });

function setup(nodeName = 'n1', netConfigPath = netConf) {
  const api = new FakeKubeApi();
  const clock = new FakeClock();
  const logger = new RecordingLogger();
  const sm = new KubeSubnetManager(api, logger, { nodeName, netConfigPath, annotations: kubeAnnotations(), setNodeNetworkUnavailable: true, clock });
  const results: LeaseWatchResult[] = [];
  const ac = new AbortController();
  return { api, clock, logger, sm, results, ac, signal: ac.signal };
}

/** Until `ok()` holds: the manager reads net-conf.json from disk, which takes real time on a busy machine. */
async function until(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !ok(); i++) {
    await settle();
    await new Promise((r) => setTimeout(r, 5));
  }
}

const summary = (r: LeaseWatchResult) =>
  r.kind === 'snapshot'
    ? `snapshot ${r.snapshot.map((l) => String(l.subnet)).join(',')}`
    : r.events.map((e) => `${e.type} ${String(e.lease.subnet)} ${e.lease.attrs.publicIP}`).join(';');

describe('KubeSubnetManager', () => {
  it('acquires the pod CIDR, writes our annotations to nodes/status, and never allocates', async () => {
    const { api, sm, signal } = setup();
    api.put(node('n1', '10.244.7.0/24'));
    const lease = await sm.acquireLease(attrs, signal);
    expect(String(lease.subnet)).toBe('10.244.7.0/24');
    expect(api.nodes.get('n1')!.metadata.annotations).toEqual({
      [`${P}backend-type`]: 'vxlan',
      [`${P}backend-data`]: '{"VNI":1,"VtepMAC":"0a:00:00:00:00:01"}',
      [`${P}public-ip`]: '192.0.2.11',
      [`${P}kube-subnet-manager`]: 'true',
    });
    expect(sm.name).toBe('Kubernetes Subnet Manager - n1');
  });

  it('waits for a pod CIDR, naming --allocate-node-cidrs, then goes on', async () => {
    const { api, clock, logger, sm, signal } = setup();
    api.put(node('n1', undefined));
    const acquired = sm.acquireLease(attrs, signal);
    const said = () => logger.entries.map((l) => JSON.stringify(l)).join('\n');
    await until(() => said().includes('pod cidr not assigned'));
    expect(logger.entries.map((l) => JSON.stringify(l)).join('\n')).toMatch(/pod cidr not assigned.*--allocate-node-cidrs.*--pod-network-cidr/);
    api.put(node('n1', '10.244.8.0/24'));
    await clock.advance(1000);
    expect(String((await acquired).subnet)).toBe('10.244.8.0/24');
  });

  it('refuses a pod CIDR outside the network', async () => {
    const { api, sm, signal } = setup();
    api.put(node('n1', '10.99.1.0/24'));
    await expect(sm.acquireLease(attrs, signal)).rejects.toThrow(/doesn't contain "10.99.1.0\/24" PodCIDR of the "n1" node/);
  });

  it('names the field and the fix when a pod CIDR of either family is missing or outside its network', async () => {
    const refusal = async (path: string, n: KubeNode) => {
      const { api, sm, signal } = setup('n1', path);
      api.put(n);
      return ((await sm.acquireLease(attrs, signal).catch((e: unknown) => e)) as Error).message;
    };
    expect(await refusal(netConf, node('n1', '10.99.1.0/24'))).toBe(
      `Network: subnet "10.244.0.0/16" specified in the flannel net config doesn't contain "10.99.1.0/24" PodCIDR of the "n1" node; ` +
        "make net-conf.json's Network the cluster CIDR (kube-controller-manager --cluster-cidr)",
    );
    expect(await refusal(v6OnlyNetConf, dualNode('n1', '10.244.7.0/24'))).toBe(
      'spec.podCIDRs: node "n1" has no IPv6 pod CIDR (10.244.7.0/24); give the node one, or disable EnableIPv6',
    );
    expect(await refusal(dualNetConf, dualNode('n1', 'fd00:10:244:7::/64'))).toBe(
      'spec.podCIDRs: node "n1" has no IPv4 pod CIDR (fd00:10:244:7::/64); give the node one, or disable EnableIPv4',
    );
    expect(await refusal(dualNetConf, dualNode('n1', '10.244.7.0/24', 'fd00:99::/64'))).toBe(
      `IPv6Network: subnet "fd00:10:244::/56" specified in the flannel net config doesn't contain "fd00:99::/64" PodCIDR of the "n1" node; ` +
        "make net-conf.json's IPv6Network the cluster IPv6 CIDR",
    );
    const { api, sm, signal } = setup('n1', dualNetConf);
    api.put(dualNode('n1', '10.244.7.0/24', 'fd00:10:244:7::/64'));
    const lease = await sm.acquireLease(attrs, signal);
    expect([String(lease.subnet), String(lease.ipv6Subnet)]).toEqual(['10.244.7.0/24', 'fd00:10:244:7::/64']);
  });

  it('watches: a snapshot, then an event only when backend type, data or public IP change; a 410 re-lists', async () => {
    const { api, clock, sm, results, signal } = setup();
    api.put(node('n1', '10.244.1.0/24'));
    api.put(peer('n2', '10.244.2.0/24', '192.0.2.12'));
    api.put(node('other', '10.244.9.0/24'));
    await sm.acquireLease(attrs, signal);
    const sub = sm.watchLeases().subscribe((r) => results.push(r));
    await settle();
    expect(results.map(summary)).toEqual(['snapshot 10.244.1.0/24,10.244.2.0/24']);

    api.put({ ...peer('n2', '10.244.2.0/24', '192.0.2.12'), status: { conditions: [{ type: 'Ready', status: 'True' }] } });
    api.put(peer('n3', '10.244.3.0/24', '192.0.2.13'));
    api.put(peer('n2', '10.244.2.0/24', '198.51.100.2'));
    api.delete('n3');
    await settle();
    expect(results.slice(1).map(summary)).toEqual(['added 10.244.3.0/24 192.0.2.13', 'added 10.244.2.0/24 198.51.100.2', 'removed 10.244.3.0/24 192.0.2.13']);

    // The server ends the watch: resumed from where it was, nothing replayed.
    api.endWatches();
    await settle();
    expect(results).toHaveLength(4);
    expect(api.calls.list).toBe(1);

    // The resourceVersion falls out of the server's window while we are away: 410, then a new snapshot.
    api.failNext = 1;
    api.endWatches();
    await settle();
    api.put(peer('n4', '10.244.4.0/24', '192.0.2.14'));
    api.compact();
    await clock.advance(100);
    expect(api.calls.list).toBe(2);
    expect(results.slice(4).map(summary)).toEqual(['snapshot 10.244.1.0/24,10.244.2.0/24,10.244.4.0/24']);
    sub.unsubscribe();
    expect(api.watching).toBe(0);
  });

  it('resumes from a bookmark: a watch ended after others wrote elsewhere needs no re-list', async () => {
    const { api, sm, results, signal } = setup();
    api.put(node('n1', '10.244.1.0/24'));
    await sm.acquireLease(attrs, signal);
    const sub = sm.watchLeases().subscribe((r) => results.push(r));
    await settle();
    api.bookmark();
    api.compact();
    api.endWatches();
    await settle();
    expect(api.calls.list).toBe(1);
    expect(api.watching).toBe(1);
    expect(results.map(summary)).toEqual(['snapshot 10.244.1.0/24']);
    sub.unsubscribe();
  });

  it('parses net-conf.json once while it is unchanged, and warns once about an unknown field', async () => {
    const path = join(dir, 'padded-net-conf.json');
    writeFileSync(path, JSON.stringify({ Network: '10.244.0.0/16', Padding: 1, Backend: { Type: 'vxlan' } }));
    const { logger, sm, signal } = setup('n1', path);
    const first = await sm.getNetworkConfig(signal);
    first.backendType = 'changed by a caller';
    expect((await sm.getNetworkConfig(signal)).backendType).toBe('vxlan');
    expect(logger.messages('warn').filter((m) => m === 'unknown field in the network config, ignored')).toHaveLength(1);
    writeFileSync(path, JSON.stringify({ Network: '10.245.0.0/16', Padding: 1, Backend: { Type: 'vxlan' } }));
    expect(String((await sm.getNetworkConfig(signal)).network)).toBe('10.245.0.0/16');
    expect(logger.messages('warn').filter((m) => m === 'unknown field in the network config, ignored')).toHaveLength(2);
  });

  it('retries a failing API server with backoff, and says the store is down meanwhile', async () => {
    const { api, clock, sm, results, signal } = setup();
    api.put(node('n1', '10.244.1.0/24'));
    await sm.acquireLease(attrs, signal);
    api.failNext = 3;
    const sub = sm.watchLeases().subscribe((r) => results.push(r));
    await settle();
    expect(results).toHaveLength(0);
    await expect(sm.getNetworkConfig(signal)).rejects.toThrow(/ECONNREFUSED/);
    await clock.advance(100 + 200 + 400);
    await settle();
    expect(results.map(summary)).toEqual(['snapshot 10.244.1.0/24']);
    await expect(sm.getNetworkConfig(signal)).resolves.toMatchObject({ backendType: 'vxlan' });
    sub.unsubscribe();
  });

  it('marks the network available, and writes our annotations again when someone changes them', async () => {
    const { api, sm, signal, ac } = setup();
    api.put(node('n1', '10.244.1.0/24'));
    const lease = await sm.acquireLease(attrs, signal);
    const holding = sm.completeLease(lease, signal);
    await settle();
    expect(api.nodes.get('n1')!.status?.conditions).toEqual([expect.objectContaining({ type: 'NetworkUnavailable', status: 'False', reason: 'FlannelIsUp' })]);
    const n = structuredClone(api.nodes.get('n1')!);
    n.metadata.annotations![`${P}public-ip-overwrite`] = '198.51.100.11';
    api.put(n);
    await settle();
    expect(api.nodes.get('n1')!.metadata.annotations![`${P}public-ip`]).toBe('198.51.100.11');
    ac.abort();
    await holding;
  });

  it('gives the lease up when our Node comes back with another pod CIDR', async () => {
    const { api, sm, signal } = setup();
    api.put(node('n1', '10.244.1.0/24'));
    const lease = await sm.acquireLease(attrs, signal);
    const holding = sm.completeLease(lease, signal);
    await settle();
    api.delete('n1');
    api.put(node('n1', '10.244.5.0/24'));
    await expect(holding).rejects.toBeInstanceOf(LeaseRevokedError);
  });

  it('reads the stored VTEP MAC and the node-public-ip annotations', async () => {
    const { api, sm, signal } = setup();
    api.put(node('n1', '10.244.1.0/24', { [`${P}backend-data`]: '{"VNI":1,"VtepMAC":"0a:00:00:00:00:09"}', [`${P}node-public-ip`]: '198.51.100.1' }));
    expect((await sm.lookupLease(attrs, signal))?.attrs.backendData).toEqual({ VNI: 1, VtepMAC: '0a:00:00:00:00:09' });
    expect(String((await sm.storedPublicIP(signal)).publicIP)).toBe('198.51.100.1');
  });

  it('finds its node name from NODE_NAME, else from its own pod', async () => {
    const api = new FakeKubeApi();
    const signal = new AbortController().signal;
    expect(await resolveNodeName(api, { NODE_NAME: 'x' }, signal)).toBe('x');
    expect(await resolveNodeName(api, { POD_NAME: 'flannel-pod', POD_NAMESPACE: 'kube-flannel' }, signal)).toBe('node-of-pod');
    await expect(resolveNodeName(api, {}, signal)).rejects.toThrow('env variables POD_NAME and POD_NAMESPACE must be set');
  });
});

// Failures 9 and 10 of issue 19, on the real CLI with a real etcd:
// - net-conf with a UTF-8 byte-order mark and keys that differ only in case (the last one wins, as Go's
//   encoding/json decides), and a net-conf larger than 4 MiB (gRPC's default receive limit);
// - a TLS key that is no key names the flag and the file; FLANNELD_HEALTHZ_IP=not-an-ip is a flag error (exit 2).
import { jest } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { startProcess, waitForExit } from '../harness/processes.js';
import { FLANNELD, tearDown, Topology, type TopologyNode } from '../harness/topology.js';
import { DEADLINE } from '../harness/wait.js';
import { etcdTool, logLines } from './chaos.js';

jest.setTimeout(DEADLINE.setupMs);

const MiB = 1024 * 1024;
let topo: Topology;
let node: TopologyNode;

beforeAll(async () => {
  topo = await Topology.create({
    nodes: 1,
    store: 'etcd',
    netConf: { Network: '10.244.0.0/16', Backend: { Type: 'vxlan' } },
    tag: 'bi',
    // etcd takes values up to 1.5 MiB unless told otherwise.
    etcdOptions: { maxRequestBytes: 8 * MiB },
  });
  node = topo.nodes[0]!;
}, DEADLINE.setupMs);

afterEach(() => topo.stopFlanneld(node));
afterAll(() => tearDown([topo]));

/** Writes the network config as these exact bytes (through a file: no argument holds 5 MiB, nor will etcdctl send it). */
function putConfig(text: string): void {
  const file = join(topo.dir, 'net-conf.put');
  writeFileSync(file, text);
  etcdTool(topo, 'put', `${topo.etcdPrefix}/config`, file);
}

describe('net-conf as Go reads it', () => {
  it('strips a byte-order mark and lets the last of two keys that differ only in case win', async () => {
    putConfig('\uFEFF{"Network":"10.9.0.0/16","network":"10.244.0.0/16","Backend":{"Type":"vxlan"},"backend":{"type":"vxlan","VNI":7}}');
    await topo.startFlanneld(node);
    expect(topo.subnetEnv(node).FLANNEL_NETWORK).toBe('10.244.0.0/16');
    expect(topo.leaseSubnet(node)).toMatch(/^10\.244\.\d+\.0\/24$/);
    expect(JSON.parse(execFileSync('ip', ['-n', node.ns, '-d', '-j', 'link', 'show', 'flannel.7'], { encoding: 'utf8' }))[0].linkinfo.info_data.id).toBe(7);
  });

  it('loads a config larger than 4 MiB', async () => {
    const padding = 'x'.repeat(5 * MiB);
    putConfig(JSON.stringify({ Network: '10.244.0.0/16', Backend: { Type: 'vxlan' }, Padding: padding }));
    await topo.startFlanneld(node);
    expect(topo.subnetEnv(node).FLANNEL_NETWORK).toBe('10.244.0.0/16');
    expect(logLines(node.flanneld!).some((l) => l.msg === 'unknown field in the network config, ignored' && l.field === 'Padding')).toBe(true);
  });
});

describe('errors that name the thing', () => {
  it('names the flag and the file of a TLS key that is no key', async () => {
    const key = join(topo.dir, 'bad.key');
    const cert = join(topo.dir, 'bad.crt');
    writeFileSync(key, 'not a key\n');
    writeFileSync(cert, 'not a certificate\n');
    const p = startProcess('node', [FLANNELD, ...topo.flanneldArgs(node), `--etcd-keyfile=${key}`, `--etcd-certfile=${cert}`], { netns: node.ns });
    expect(await waitForExit(p, DEADLINE.readyMs, 'flanneld with a bad key')).toBe(1);
    expect(logLines(p).some((l) => l.msg === `--etcd-keyfile: ${key} is not a PEM private key; give the key file in PEM form`)).toBe(true);
  });

  it('takes FLANNELD_HEALTHZ_IP=not-an-ip as a flag error (exit 2), not a name to look up', async () => {
    const p = startProcess('node', [FLANNELD, ...topo.flanneldArgs(node).filter((a) => !a.startsWith('--healthz-ip'))], {
      netns: node.ns,
      env: { ...process.env, FLANNELD_HEALTHZ_IP: 'not-an-ip' },
    });
    expect(await waitForExit(p, DEADLINE.readyMs, 'flanneld with a bad healthz ip')).toBe(2);
    expect(logLines(p).some((l) => l.msg.startsWith('flanneld: -healthz-ip: "not-an-ip" is not an IP address'))).toBe(true);
  });
});

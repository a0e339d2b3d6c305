// npm run bench -- cni
// Median of 20 ADDs (each into a fresh pod namespace, removed again with DEL): through the flannel plugin,
// and straight into the bridge plugin with the very config flannel renders. The difference is what flannel
// adds per pod: Node's start-up, reading subnet.env, saving state and spawning the delegate.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cniExec } from '../harness/cni.js';
import { cleanupNetns, createNetns, deleteNetns, RUN_PREFIX } from '../harness/netns.js';

const ROUNDS = 20;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const dir = mkdtempSync(join(tmpdir(), `${RUN_PREFIX}cnibench-`));
try {
  writeFileSync(join(dir, 'subnet.env'), 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.7.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n');
  const node = createNetns('cnibench');
  const flannelConf = {
    cniVersion: '1.0.0',
    name: 'cbr0',
    type: 'flannel',
    subnetFile: join(dir, 'subnet.env'),
    dataDir: join(dir, 'flannel'),
    delegate: { hairpinMode: true, isDefaultGateway: true },
    ipam: { dataDir: join(dir, 'host-local') },
  };

  /** ADD into a new pod namespace, timed; then DEL and remove the namespace. `keep` leaves the saved state. */
  const timeAdd = (type: string, conf: object, id: string, keep = false): number => {
    const pod = createNetns(`cb-${id}`);
    const t = performance.now();
    const r = cniExec(node, type, conf, { command: 'ADD', containerID: id, podNs: pod });
    const ms = performance.now() - t;
    if (r.code !== 0) throw new Error(`${type} ADD failed: ${r.stdout}${r.stderr}`);
    if (!keep) cniExec(node, type, conf, { command: 'DEL', containerID: id, podNs: pod });
    deleteNetns(pod);
    return ms;
  };

  // A first ADD warms caches and leaves behind the bridge config flannel rendered.
  timeAdd('flannel', flannelConf, 'warm', true);
  const bridgeConf = JSON.parse(readFileSync(join(dir, 'flannel', 'warm'), 'utf8')) as object;
  timeAdd('bridge', bridgeConf, 'warmb');

  const flannelMs: number[] = [];
  const bridgeMs: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    flannelMs.push(timeAdd('flannel', flannelConf, `f${i}`));
    bridgeMs.push(timeAdd('bridge', bridgeConf, `b${i}`));
  }
  const a = median(flannelMs);
  const b = median(bridgeMs);
  console.log(`RESULT cni_add_ms=${a.toFixed(1)}`);
  console.log(`RESULT bridge_add_ms=${b.toFixed(1)}`);
  console.log(`RESULT cni_overhead_ms=${(a - b).toFixed(1)}`);
} finally {
  cleanupNetns();
  rmSync(dir, { recursive: true, force: true });
}

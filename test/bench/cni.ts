// npm run bench -- cni          (FLANNEL_CNI_BIN=/path/to/flannel measures another build of the plugin)
// What the flannel plugin adds per pod over calling the bridge plugin directly with the very config flannel
// renders: wall time of ADD and DEL, and CPU time (user+sys of the plugin and everything it waited for,
// minus the same figure for the direct bridge call, so what is left is the plugin's own share, including
// any VERSION call it makes to the delegate). `node -e 0` runs in the same rounds as the reference for
// Node's own start-up. Rounds are interleaved (flannel and bridge alternate which goes first) and every
// figure is a median; overheads are medians of the per-round differences.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CNI_PATH, DELEGATE_DIR, FLANNEL_CNI_DIR } from '../harness/cni.js';
import { cleanupNetns, createNetns, deleteNetns, RUN_PREFIX } from '../harness/netns.js';

const ROUNDS = 25;
const FLANNEL_BIN = process.env.FLANNEL_CNI_BIN ?? join(FLANNEL_CNI_DIR, 'flannel');
// The plugin's environment, as a runtime gives it: no NODE_OPTIONS or NODE_EXTRA_CA_CERTS (the latter alone
// costs ~70 ms of certificate parsing per Node start on this machine). /usr/bin stays on PATH so that a
// script build of the plugin, which needs `node`, can be measured too.
const BASE_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };

interface Sample {
  wallMs: number;
  cpuMs: number;
}

const seconds = (s: string) => {
  const m = /^(\d+)m([\d.]+)s$/.exec(s);
  if (!m) throw new Error(`unexpected times output ${JSON.stringify(s)}`);
  return Number(m[1]) * 60 + Number(m[2]);
};

/**
 * Runs `argv` under bash, which reads the wall clock around it ($EPOCHREALTIME, µs) and then prints its
 * children's rusage (`times`, ms): that covers the command and every descendant it waited for, at a far
 * finer grain than /proc's clock ticks. The figures go out on fd 3, apart from the command's own output.
 */
function timed(argv: string[], env: Record<string, string>, input: string): Sample & { code: number; stdout: string; stderr: string } {
  const script = 's=$EPOCHREALTIME; "$@"; rc=$?; e=$EPOCHREALTIME; { times; echo "$s $e $rc"; } >&3';
  const r = spawnSync('/bin/bash', ['--norc', '-c', script, 'bash', ...argv], { input, env, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe', 'pipe'] });
  const lines = String(r.output[3] ?? '')
    .trim()
    .split('\n');
  const [user, sys] = (lines[1] ?? '').split(' ');
  const [start, end, rc] = (lines[2] ?? '').split(' ');
  if (!user || !sys || !start || !end || !rc) throw new Error(`bench wrapper failed: ${r.stderr}`);
  return {
    wallMs: (Number(end) - Number(start)) * 1000,
    cpuMs: (seconds(user) + seconds(sys)) * 1000,
    code: Number(rc),
    stdout: r.stdout,
    stderr: r.stderr,
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

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

  const call = (bin: string, conf: object, command: string, id: string, pod: string) => {
    const env = { ...BASE_ENV, CNI_COMMAND: command, CNI_PATH, CNI_CONTAINERID: id, CNI_NETNS: `/var/run/netns/${pod}`, CNI_IFNAME: 'eth0' };
    const r = timed(['ip', 'netns', 'exec', node, bin], env, JSON.stringify(conf));
    if (r.code !== 0) throw new Error(`${bin} ${command} failed (${r.code}): ${r.stdout}${r.stderr}`);
    return r;
  };

  // A first ADD warms the page cache and leaves the delegate config flannel rendered, whatever its file name.
  const warmPod = createNetns('cb-warm');
  call(FLANNEL_BIN, flannelConf, 'ADD', 'warm', warmPod);
  const [stateFile] = readdirSync(join(dir, 'flannel'));
  const bridgeConf = JSON.parse(readFileSync(join(dir, 'flannel', stateFile!), 'utf8')) as object;
  call(FLANNEL_BIN, flannelConf, 'DEL', 'warm', warmPod);
  const bridge = join(DELEGATE_DIR, 'bridge');

  const series = { fAdd: [] as Sample[], bAdd: [] as Sample[], fDel: [] as Sample[], bDel: [] as Sample[], node: [] as Sample[] };
  for (let i = 0; i < ROUNDS; i++) {
    const podF = createNetns(`cbf${i}`);
    const podB = createNetns(`cbb${i}`);
    const flannelFirst = i % 2 === 0;
    const addF = () => series.fAdd.push(call(FLANNEL_BIN, flannelConf, 'ADD', `f${i}`, podF));
    const addB = () => series.bAdd.push(call(bridge, bridgeConf, 'ADD', `b${i}`, podB));
    const delF = () => series.fDel.push(call(FLANNEL_BIN, flannelConf, 'DEL', `f${i}`, podF));
    const delB = () => series.bDel.push(call(bridge, bridgeConf, 'DEL', `b${i}`, podB));
    for (const step of flannelFirst ? [addF, addB, delF, delB] : [addB, addF, delB, delF]) step();
    series.node.push(timed(['node', '-e', '0'], BASE_ENV, ''));
    deleteNetns(podF);
    deleteNetns(podB);
  }

  const med = (xs: Sample[], k: keyof Sample) => median(xs.map((s) => s[k]));
  const diff = (a: Sample[], b: Sample[], k: keyof Sample) => median(a.map((s, i) => s[k] - b[i]![k]));
  const results: [string, number][] = [
    ['cni_add_ms', med(series.fAdd, 'wallMs')],
    ['bridge_add_ms', med(series.bAdd, 'wallMs')],
    ['cni_add_overhead_ms', diff(series.fAdd, series.bAdd, 'wallMs')],
    ['cni_del_ms', med(series.fDel, 'wallMs')],
    ['bridge_del_ms', med(series.bDel, 'wallMs')],
    ['cni_del_overhead_ms', diff(series.fDel, series.bDel, 'wallMs')],
    ['cni_add_cpu_ms', med(series.fAdd, 'cpuMs')],
    ['bridge_add_cpu_ms', med(series.bAdd, 'cpuMs')],
    ['cni_add_own_cpu_ms', diff(series.fAdd, series.bAdd, 'cpuMs')],
    ['cni_del_cpu_ms', med(series.fDel, 'cpuMs')],
    ['bridge_del_cpu_ms', med(series.bDel, 'cpuMs')],
    ['cni_del_own_cpu_ms', diff(series.fDel, series.bDel, 'cpuMs')],
    ['node_e0_ms', med(series.node, 'wallMs')],
    ['node_e0_cpu_ms', med(series.node, 'cpuMs')],
  ];
  console.log(`RESULT rounds=${ROUNDS}`);
  for (const [k, v] of results) console.log(`RESULT ${k}=${v.toFixed(1)}`);
} finally {
  cleanupNetns();
  rmSync(dir, { recursive: true, force: true });
}

// npm run demo [-- --backend TYPE] [--nodes N] [--hold] [--nested]
// A few flanneld nodes (with --ip-masq) in network namespaces on this machine, the embedded store, one pod
// per node made through the flannel CNI plugin as a kubelet would, and a ping matrix. Everything is
// removed at the end, or on Ctrl-C. Exit 0 only if every pod pair pinged.
import { isRoot, sh } from '../harness/netns.js';
import { stopAllProcesses } from '../harness/processes.js';
import { Topology, type TopologyNode } from '../harness/topology.js';
import { spawn } from 'node:child_process';
import { missingKernelFeature } from '../harness/kernel-features.js';
import { inGuest, REPO, VMRUN } from '../vm/run-in-vm.js';

interface DemoArgs {
  backend: string;
  nodes: number;
  hold: boolean;
  nested: boolean;
}

function parseArgs(argv: string[]): DemoArgs {
  const args: DemoArgs = { backend: 'vxlan', nodes: 3, hold: false, nested: false };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    const value = () => inline ?? argv[++i] ?? fail(`${flag} needs a value`);
    if (flag === '--backend') args.backend = value();
    else if (flag === '--nodes') args.nodes = Number(value());
    else if (flag === '--hold') args.hold = true;
    else if (flag === '--nested') args.nested = true;
    else if (flag === '--help' || flag === '-h') {
      console.log('usage: npm run demo -- [--backend vxlan|host-gw|ipip] [--nodes 2..9] [--hold] [--nested]');
      process.exit(0);
    } else fail(`unknown option ${flag}; try --help`);
  }
  if (!Number.isInteger(args.nodes) || args.nodes < 2 || args.nodes > 9) fail('--nodes: give a whole number from 2 to 9');
  return args;
}

function fail(msg: string): never {
  console.error(`demo: ${msg}`);
  process.exit(2);
}

const section = (title: string) => console.log(`\n\x1b[1m== ${title}\x1b[0m`);
const show = (node: TopologyNode, title: string, cmd: string, args: string[]) => {
  let out: string;
  try {
    out = sh(cmd, ['-n', node.ns, ...args]).trim();
  } catch (err) {
    out = `(${(err as Error).message.split('\n')[0]})`;
  }
  console.log(`  ${title}:\n${(out || '(none)').replace(/^/gm, '    ')}`);
};

/** The same demo inside test/vm/vmrun's throwaway VM, for backends this kernel cannot run. */
function runNested(argv: string[]): Promise<number> {
  console.log('Booting a nested kernel (qemu, software emulation; flanneld is ~20x slower in there)...');
  const child = spawn(VMRUN, ['--timeout', '900', '--share', REPO, '--', 'node', 'test/dist/demo/demo.js', ...argv], { cwd: REPO, stdio: 'inherit' });
  return new Promise((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (!isRoot()) fail('run as root: it creates network namespaces');
  if (args.nested && !inGuest()) return runNested(process.argv.slice(2).filter((a) => a !== '--nested'));
  const missing = missingKernelFeature(args.backend);
  if (missing) {
    console.error(`demo: the ${args.backend} backend needs ${missing}, which this kernel does not have.`);
    console.error(`demo: add --nested to run the same demo in a nested kernel that has it (qemu, about a minute).`);
    return 1;
  }

  // Inside the nested kernel br_netfilter is a module; prepare the "nodes" as kube-flannel's docs say.
  if (inGuest()) sh('modprobe', ['br_netfilter']);
  console.log(`Starting ${args.nodes} nodes (backend ${args.backend}, embedded lease store) in network namespaces...`);
  const topo = await Topology.create({
    nodes: args.nodes,
    store: 'embedded',
    netConf: { Network: '10.244.0.0/16', Backend: { Type: args.backend } },
    tag: 'demo',
  });
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    console.log('\nCleaning up: stopping flanneld, removing namespaces...');
    await topo.destroy();
    await stopAllProcesses();
  };
  const onSignal = () => void cleanup().then(() => process.exit(130));
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    // Under software emulation (--nested) flanneld needs many times longer to start.
    const started = await Promise.allSettled(topo.nodes.map((n) => topo.startFlanneld(n, ['--ip-masq'], inGuest() ? 300_000 : 20_000)));
    const failed = started.findIndex((s) => s.status === 'rejected');
    if (failed >= 0) {
      const node = topo.nodes[failed]!;
      const lines = (node.flanneld?.output() ?? String((started[failed] as PromiseRejectedResult).reason)).trim().split('\n');
      const last = lines
        .map((l) => {
          try {
            return (JSON.parse(l) as { msg?: string }).msg ?? l;
          } catch {
            return l;
          }
        })
        .slice(-3);
      console.error(`demo: flanneld did not become ready on ${node.name}:\n  ${last.join('\n  ')}`);
      return 1;
    }
    for (const n of topo.nodes) topo.addPod(n);

    for (const n of topo.nodes) {
      section(`${n.name} (namespace ${n.ns}, underlay ${n.ip})`);
      const env = topo.subnetEnv(n);
      console.log(`  lease: ${topo.leaseSubnet(n)}   MTU ${env.FLANNEL_MTU}   pod ${n.pods[0]!.ip}`);
      show(n, 'routes (ip route show proto 70)', 'ip', ['route', 'show', 'proto', '70']);
      show(n, 'neigh (ip neigh show nud permanent)', 'ip', ['neigh', 'show', 'nud', 'permanent']);
      if (args.backend === 'vxlan') show(n, 'fdb (bridge fdb show dev flannel.1)', 'bridge', ['fdb', 'show', 'dev', 'flannel.1']);
    }

    section('ping matrix (rows ping columns)');
    const matrix = topo.pingMatrix();
    const pods = topo.nodes.map((n) => n.pods[0]!);
    console.log(`  ${''.padEnd(14)}${pods.map((p) => p.ip.padEnd(14)).join('')}`);
    for (const from of pods) {
      const cells = pods.map((to) => (to === from ? '-' : matrix.find((m) => m.from === from && m.to === to)!.ok ? 'ok' : 'FAIL'));
      console.log(`  ${from.ip.padEnd(14)}${cells.map((c) => c.padEnd(14)).join('')}`);
    }
    const bad = matrix.filter((m) => !m.ok).length;
    console.log(bad === 0 ? `\nAll ${matrix.length} pod pairs pinged across ${args.backend}.` : `\n${bad} of ${matrix.length} pod pairs did not ping.`);

    if (args.hold) {
      console.log(`\nHolding the nodes up; look around with e.g.\n  ip netns exec ${pods[0]!.ns} ping ${pods[1]!.ip}\nCtrl-C to clean up.`);
      await new Promise(() => undefined);
    }
    return bad === 0 ? 0 : 1;
  } finally {
    await cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`demo: ${err.message}`);
    process.exit(1);
  },
);

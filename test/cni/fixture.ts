// One flannel CNI test bed per suite: a temporary root holding subnet.env, dataDir, host-local's dir and
// fake delegate plugins, a node namespace the plugin runs in, and pod namespaces; plus the checks every
// case ends with (what was written where, and what an attachment left behind).
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { CNI_PATH, cniExec, type CniCall, type CniOutput } from '../harness/cni.js';
import { cleanupNetns, createNetns, ipJson, RUN_PREFIX } from '../harness/netns.js';

export const GOOD_SUBNET_ENV = 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.7.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n';

/** A delegate that answers VERSION with `versions` and DEL with success, and runs `onAdd` (sh) for everything else. */
export function fakeDelegate(fixture: CniFixture, name: string, onAdd: string, versions = ['0.3.1', '0.4.0', '1.0.0']): void {
  const log = join(fixture.callsDir, `${name}.log`);
  const script = [
    '#!/bin/sh',
    `echo "$CNI_COMMAND $CNI_CONTAINERID $CNI_IFNAME" >> ${log}`,
    `/bin/cat > ${join(fixture.callsDir, `${name}.$CNI_COMMAND.stdin`)}`,
    'case "$CNI_COMMAND" in',
    `  VERSION) echo '${JSON.stringify({ cniVersion: versions.at(-1), supportedVersions: versions })}'; exit 0;;`,
    '  DEL) exit 0;;',
    'esac',
    onAdd,
    '',
  ].join('\n');
  writeFileSync(join(fixture.fakeBinDir, name), script);
  chmodSync(join(fixture.fakeBinDir, name), 0o755);
}

export class CniFixture {
  readonly root = mkdtempSync(join(tmpdir(), `${RUN_PREFIX}cni-`));
  readonly dataDir = join(this.root, 'state', 'flannel');
  readonly hostLocalDir = join(this.root, 'host-local');
  readonly subnetFile = join(this.root, 'subnet.env');
  /** Fake delegates, first on CNI_PATH. */
  readonly fakeBinDir = join(this.root, 'cni-bin');
  /** Where fake delegates log their calls: the one place besides dataDir and host-local's they may write. */
  readonly callsDir = join(this.root, 'calls');
  readonly cniPath = `${this.fakeBinDir}:${CNI_PATH}`;
  readonly node: string;
  readonly pod: string;

  /** Made at a suite's load, before its afterAll exists: a failure half-way cleans up here. */
  constructor(name: string) {
    try {
      mkdirSync(this.fakeBinDir);
      mkdirSync(this.callsDir);
      mkdirSync(dirname(this.dataDir)); // the plugin makes dataDir itself, and nothing else
      this.resetSubnetEnv();
      this.node = createNetns(`${name}n`);
      this.pod = createNetns(`${name}p`);
    } catch (err) {
      this.cleanup();
      throw err;
    }
  }

  /** Puts a good subnet.env back, whatever a case put at its path. */
  resetSubnetEnv(): void {
    rmSync(this.subnetFile, { recursive: true, force: true });
    writeFileSync(this.subnetFile, GOOD_SUBNET_ENV);
  }

  conf(over: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      cniVersion: '1.0.0',
      name: 'cbr0',
      type: 'flannel',
      subnetFile: this.subnetFile,
      dataDir: this.dataDir,
      delegate: { hairpinMode: true, isDefaultGateway: true },
      ipam: { dataDir: this.hostLocalDir },
      ...over,
    };
  }

  /** Runs the flannel plugin; CNI_PATH has the fake delegates first, the pod namespace defaults to this.pod. */
  run(command: string, conf: object | string, call: Omit<CniCall, 'command'> = {}): CniOutput {
    return cniExec(this.node, 'flannel', conf, { podNs: this.pod, ...call, command, env: { CNI_PATH: this.cniPath, ...call.env } });
  }

  /** Every path under the root outside dataDir, host-local's dir and the call logs, with its mode, size and mtime. */
  writtenOutside(): Map<string, string> {
    const seen = new Map<string, string>();
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (path === this.dataDir || path === this.hostLocalDir || path === this.callsDir) continue;
        const st = lstatSync(path);
        // A directory's mtime moves whenever an entry is added below it (dataDir itself, say): only files count.
        seen.set(relative(this.root, path), st.isDirectory() ? 'dir' : `${st.mode}:${st.size}:${st.mtimeMs}`);
        if (st.isDirectory()) walk(path);
      }
    };
    walk(this.root);
    return seen;
  }

  stateFile(containerID: string, ifname = 'eth0', network = 'cbr0'): string {
    return join(this.dataDir, `${network}:${containerID}:${ifname}`);
  }

  /**
   * What an attachment left: its state file (either layout), host-local reservations naming it, the pod's
   * interfaces and, unless other attachments are up on this node, any veth on the node (a veth whose pod
   * end never left the node would show only there).
   */
  leftovers(containerID: string, opts: { ifname?: string; network?: string; pod?: string; othersUp?: boolean } = {}): string[] {
    const state = this.stateFile(containerID, opts.ifname ?? 'eth0', opts.network ?? 'cbr0');
    const left: string[] = [];
    if (existsSync(state)) left.push(`state ${state}`);
    if (existsSync(join(this.dataDir, containerID))) left.push(`old-layout state ${join(this.dataDir, containerID)}`);
    left.push(...this.reservations(containerID).map((ip) => `reservation ${ip}`));
    const podLinks = ipJson<{ ifname: string }[]>(opts.pod ?? this.pod, 'link', 'show')
      .map((l) => l.ifname)
      .filter((n) => n !== 'lo');
    left.push(...podLinks.map((n) => `pod interface ${n}`));
    if (!opts.othersUp) left.push(...this.nodeVeths().map((n) => `node veth ${n}`));
    return left;
  }

  /** host-local reservations (files named by address, holding the container ID) of `containerID`. */
  reservations(containerID: string): string[] {
    const out: string[] = [];
    if (!existsSync(this.hostLocalDir)) return out;
    for (const net of readdirSync(this.hostLocalDir)) {
      for (const file of readdirSync(join(this.hostLocalDir, net))) {
        if (file === 'lock' || file.startsWith('last_reserved_ip')) continue;
        if (readFileSync(join(this.hostLocalDir, net, file), 'utf8').split(/\r?\n/)[0] === containerID) out.push(`${net}/${file}`);
      }
    }
    return out;
  }

  /** The calls a fake delegate got, as "COMMAND containerID ifname" lines. */
  calls(name: string): string[] {
    const log = join(this.callsDir, `${name}.log`);
    return existsSync(log)
      ? readFileSync(log, 'utf8')
          .trim()
          .split('\n')
          .map((l) => l.trimEnd())
      : [];
  }

  nodeVeths(): string[] {
    return ipJson<{ ifname: string }[]>(this.node, 'link', 'show', 'type', 'veth').map((l) => l.ifname);
  }

  /** Removes the namespaces and files, whatever state a failed test left them in. */
  cleanup(): void {
    cleanupNetns();
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** subnet.env files with which ADD cannot work: ADD must answer 11 and STATUS 50 for each. */
export const UNUSABLE_SUBNET_ENVS: [string, (f: CniFixture) => Record<string, unknown> | void][] = [
  ['a missing subnet.env', (f) => rmSync(f.subnetFile)],
  [
    'a directory',
    (f) => {
      rmSync(f.subnetFile);
      mkdirSync(f.subnetFile);
    },
  ],
  ['/dev/zero', () => ({ subnetFile: '/dev/zero' })],
  [
    'a symlink to /dev/zero',
    (f) => {
      rmSync(f.subnetFile);
      symlinkSync('/dev/zero', f.subnetFile);
    },
  ],
  [
    'a FIFO',
    (f) => {
      rmSync(f.subnetFile);
      execFileSync('mkfifo', [f.subnetFile]);
    },
  ],
  ['a 2 MiB file', (f) => writeFileSync(f.subnetFile, GOOD_SUBNET_ENV + '#'.repeat(2 << 20))],
  ['an empty file', (f) => writeFileSync(f.subnetFile, '')],
  ['FLANNEL_SUBNET=', (f) => writeFileSync(f.subnetFile, GOOD_SUBNET_ENV.replace('10.244.7.1/24', ''))],
  ['FLANNEL_SUBNET=,', (f) => writeFileSync(f.subnetFile, GOOD_SUBNET_ENV.replace('10.244.7.1/24', ','))],
  ['a /32 subnet', (f) => writeFileSync(f.subnetFile, GOOD_SUBNET_ENV.replace('10.244.7.1/24', '10.244.7.1/32'))],
  ['a /31 subnet', (f) => writeFileSync(f.subnetFile, GOOD_SUBNET_ENV.replace('10.244.7.1/24', '10.244.7.1/31'))],
  ['a subnet outside the network', (f) => writeFileSync(f.subnetFile, GOOD_SUBNET_ENV.replace('10.244.7.1/24', '10.9.7.1/24'))],
  ['an IPv6 FLANNEL_SUBNET', (f) => writeFileSync(f.subnetFile, GOOD_SUBNET_ENV.replace('10.244.7.1/24', 'fd00::1/64'))],
  ['FLANNEL_NETWORK=garbage', (f) => writeFileSync(f.subnetFile, GOOD_SUBNET_ENV.replace('10.244.0.0/16', 'garbage'))],
  ['FLANNEL_NETWORK with an empty entry', (f) => writeFileSync(f.subnetFile, GOOD_SUBNET_ENV.replace('10.244.0.0/16', '10.244.0.0/16,'))],
  ...['65536', '1e3', '0x5aa', '99999999999', '0', '-1', '', '1450.0', '67'].map((mtu): [string, (f: CniFixture) => void] => [
    `FLANNEL_MTU=${mtu}`,
    (f) => writeFileSync(f.subnetFile, GOOD_SUBNET_ENV.replace('1450', mtu)),
  ]),
  ['no FLANNEL_IPMASQ', (f) => writeFileSync(f.subnetFile, GOOD_SUBNET_ENV.replace('FLANNEL_IPMASQ=true\n', ''))],
];

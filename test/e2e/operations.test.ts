// Operating flanneld: readiness with reasons, metrics that pass promtool, one warning per store outage,
// failures that exit 1, error texts, flannelctl against real flanneld processes, the vxlan checksum
// offload option on a real device, and the etcd v2 → v3 migration against a real etcd with --enable-v2.
import { jest } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execIn, ipIn, RUN_PREFIX, sh } from '../harness/netns.js';
import { startProcess, stopProcess, waitForExit, waitForOutput, type Started } from '../harness/processes.js';
import { FLANNELD, HEALTHZ_PORT, tearDown, Topology, type TopologyNode } from '../harness/topology.js';
import { DEADLINE, waitFor } from '../harness/wait.js';

jest.setTimeout(DEADLINE.testMs);

// bin/flannelctl.js beside bin/flanneld.js (FLANNELD is the executable, no longer dist/main.js).
const FLANNELCTL = join(dirname(FLANNELD), 'flannelctl.js');
const NET_CONF = { Network: '10.244.0.0/16', Backend: { Type: 'vxlan', ChecksumOffload: 'off' } };
let topo: Topology;
let n1: TopologyNode;
let n2: TopologyNode;
let n3: TopologyNode;
let dir: string;

/** Runs a command inside a namespace; never throws: code, stdout and stderr. */
function runIn(ns: string, cmd: string, ...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync('ip', ['netns', 'exec', ns, cmd, ...args], { encoding: 'utf8', timeout: DEADLINE.convergeMs });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

const ctl = (n: TopologyNode, ...args: string[]) => runIn(n.ns, 'node', FLANNELCTL, '--endpoint', `http://127.0.0.1:${HEALTHZ_PORT}`, ...args);

/** A tiny XML well-formedness check: every tag closed in order, attributes quoted, one root. */
function checkXml(text: string): string[] {
  const body = text.replace(/^<\?xml[^?]*\?>\s*/, '');
  const stack: string[] = [];
  const names: string[] = [];
  const re = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|<!--[\s\S]*?-->/g;
  let last = 0;
  let roots = 0;
  for (let m = re.exec(body); m; m = re.exec(body)) {
    if (/[<>]/.test(body.slice(last, m.index))) throw new Error(`stray markup before offset ${m.index}`);
    last = re.lastIndex;
    if (!m[2]) continue;
    if (m[1]) {
      if (stack.pop() !== m[2]) throw new Error(`</${m[2]}> closes the wrong element`);
      continue;
    }
    if (stack.length === 0) roots++;
    names.push(m[2]);
    if (!m[4]) stack.push(m[2]);
  }
  if (stack.length > 0 || roots !== 1 || body.slice(last).trim() !== '') throw new Error(`not well-formed (open: ${stack.join(',')}, roots: ${roots})`);
  return names;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), `${RUN_PREFIX}ops-`));
  topo = await Topology.create({ nodes: 3, store: 'etcd', netConf: NET_CONF, tag: 'op' });
  [n1, n2, n3] = topo.nodes as [TopologyNode, TopologyNode, TopologyNode];
  // --kernel-resync: the diff test waits for the periodic comparison to remove an entry added behind flanneld's back.
  await Promise.all([topo.startFlanneld(n1, ['--kernel-resync=5']), topo.startFlanneld(n2)]);
  await waitFor(
    () => topo.metric(n1, 'flannel_peers{state="programmed"}') === 1 && topo.metric(n2, 'flannel_peers{state="programmed"}') === 1,
    DEADLINE.convergeMs,
  );
}, DEADLINE.setupMs);

afterAll(async () => {
  await tearDown([topo]);
  rmSync(dir, { recursive: true, force: true });
});

describe('readiness, health and metrics', () => {
  it('/readyz lists every check as JSON (and ?verbose as one line); /healthz is liveness only', () => {
    const [code, ...rest] = topo.httpGet(n1, '/readyz').split(' ');
    expect(code).toBe('200');
    const body = JSON.parse(rest.join(' ')) as { ready: boolean; failing: string[]; checks: Record<string, { ok: boolean; detail: string }> };
    expect(body.ready).toBe(true);
    expect(Object.keys(body.checks)).toEqual(['store', 'lease', 'subnetEnv', 'backend', 'peersSynced', 'rules']);
    expect(body.checks.lease!.detail).toMatch(new RegExp(`^${topo.leaseSubnet(n1).replace(/\./g, '\\.')} until 20\\d\\d-`));
    expect(body.checks.peersSynced!.detail).toBe('1 of 1 peers programmed');
    expect(topo.httpGet(n1, '/readyz?verbose')).toBe('200 ready: store ok, lease ok, subnetEnv ok, backend ok, peersSynced ok, rules ok');
    expect(topo.httpGet(n1, '/healthz')).toBe('200 flanneld is running');
  });

  it('/metrics passes promtool check metrics and carries the flannel metrics', () => {
    // httpGet trims the body; the exposition format ends with a newline.
    const text = `${topo.httpGet(n1, '/metrics').replace(/^200 /, '')}\n`;
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(`${r.stdout}${r.stderr}`.trim()).toBe('');
    expect(r.status).toBe(0);
    expect(text).toContain('flannel_build_info{version="v0.1.0",backend="vxlan"} 1');
    expect(text).toMatch(/^flannel_lease_events_total\{type="snapshot"\} [1-9]/m);
    expect(text).toMatch(/^flannel_lease_to_kernel_seconds_count [1-9]/m);
    expect(text).toMatch(/^flannel_store_requests_total\{op="acquire"\} 1$/m);
    // prom-client's process and Node metrics, from the parts of it the bundle keeps.
    for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_max_seconds']) {
      expect(text).toMatch(new RegExp(`^${name} [0-9.e+-]+$`, 'm'));
    }
    const expiry = Number(/^flannel_lease_expiration_timestamp_seconds (\S+)$/m.exec(text)![1]);
    expect(expiry * 1000).toBeGreaterThan(Date.now() + 23 * 3600_000);
  });
});

describe('flannelctl', () => {
  it('status shows version, backend, lease, store, rules and the peer table; --output json for scripts', () => {
    const text = ctl(n1, 'status');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^flanneld v0\.1\.0 \(pid \d+, since .*\): ready$/m);
    expect(text.stdout).toContain(`lease      ${topo.leaseSubnet(n1)}, public IP ${n1.ip}, expires 20`);
    expect(text.stdout).toContain(`store      etcd at ${topo.etcd!.endpoint}: reachable`);
    expect(text.stdout).toMatch(
      new RegExp(`^  ${topo.leaseSubnet(n2).replace(/\./g, '\\.')}\\s+${n2.ip}\\s+programmed\\s+\\{"VNI":1,"VtepMAC":"[0-9a-f:]{17}"\\}$`, 'm'),
    );
    const json = JSON.parse(ctl(n1, 'status', '--output', 'json').stdout) as {
      backend: string;
      network: { peers: { subnet: string; state: string }[]; details: Record<string, string> };
    };
    expect(json.backend).toBe('vxlan');
    expect(json.network.peers).toEqual([expect.objectContaining({ subnet: topo.leaseSubnet(n2), state: 'programmed' })]);
    expect(json.network.details.checksumOffload).toBe('off (off: ChecksumOffload is "off")');
  });

  it('diff: exit 0 when the kernel matches the leases, exit 1 naming a stale entry, 0 again once it is repaired', async () => {
    expect(ctl(n1, 'diff')).toMatchObject({ code: 0, stdout: 'the kernel holds exactly what the leases ask for\n' });
    // A permanent neighbour on flannel.1 that no lease wants: the next periodic resync (5 s here) removes it,
    // so a diff that comes after that resync finds nothing. Under load one flannelctl run can take seconds,
    // so it is added again and diffed again until a diff sees it, for as long as a convergence may take.
    let seen: ReturnType<typeof ctl> | undefined;
    for (const deadline = Date.now() + DEADLINE.convergeMs; !seen && Date.now() < deadline;) {
      ipIn(n1.ns, 'neigh', 'replace', '10.244.250.0', 'lladdr', '02:00:00:00:00:99', 'dev', 'flannel.1', 'nud', 'permanent');
      const r = ctl(n1, 'diff');
      if (r.code === 1) seen = r;
    }
    expect(seen?.stdout).toMatch(/^flannel\.1:\n {2}stale {5}neigh \d+ 10\.244\.250\.0: holds 02:00:00:00:00:99, wanted by no lease$/m);
    expect(seen?.stdout).toContain('0 missing, 1 stale, 0 different');
    expect(await waitFor(() => ctl(n1, 'diff').code === 0, DEADLINE.convergeMs, 500)).toBe(true);
  });

  it('probe reaches every peer over the overlay with no loss', () => {
    const r = ctl(n1, 'probe', '--count', '2', '--output', 'json');
    expect(r.code).toBe(0);
    const results = JSON.parse(r.stdout) as {
      peer: string;
      target: string;
      via: string;
      sent: number;
      received: number;
      lossPercent: number;
      rttAvgMs: number;
    }[];
    expect(results).toEqual([
      expect.objectContaining({ peer: topo.leaseSubnet(n2), target: topo.leaseSubnet(n2).split('/')[0], via: 'overlay', sent: 2, received: 2, lossPercent: 0 }),
    ]);
    expect(results[0]!.rttAvgMs).toBeGreaterThan(0);
    expect(ctl(n1, 'probe', '--count', '1').stdout).toMatch(/ 1\/1 +0% +[\d.]+ ms +ok$/m);
  });

  it('diagram draws every node as text, and as an SVG file that parses', () => {
    const text = ctl(n1, 'diagram');
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`[ this node ${topo.leaseSubnet(n1)} @ ${n1.ip} | vxlan ready ]`);
    expect(text.stdout).toContain(`[ ${topo.leaseSubnet(n2)} @ ${n2.ip} ] programmed`);
    const file = join(dir, 'view.svg');
    expect(ctl(n1, 'diagram', '--probe', '--svg', file).code).toBe(0);
    const svg = readFileSync(file, 'utf8');
    const elements = checkXml(svg);
    expect(elements[0]).toBe('svg');
    expect(svg).toContain(`id="self"`);
    expect(svg).toContain(`id="peer-${topo.leaseSubnet(n2)}"`);
    expect(svg).toContain(topo.leaseSubnet(n1));
    expect(svg).toMatch(/<line class="tunnel"[^>]* stroke="#2e7d32"/); // probed: healthy, green
  });

  it('says how to reach flanneld when nothing listens there', () => {
    const r = runIn(n3.ns, 'node', FLANNELCTL, '--endpoint', 'http://127.0.0.1:65531', 'status');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^flannelctl: cannot reach flanneld at http:\/\/127\.0\.0\.1:65531: ECONNREFUSED; is it running with --healthz-port/);
  });
});

describe('vxlan ChecksumOffload', () => {
  it('"off" turns tx-checksum-ip-generic off on the real device', () => {
    expect(execIn(n1.ns, 'ethtool', '-k', 'flannel.1')).toMatch(/^\s*tx-checksum-ip-generic: off/m);
    expect(n1.flanneld!.output()).toContain('"msg":"vxlan TX checksum offload"');
  });

  it('is set again when the device is recreated', async () => {
    ipIn(n2.ns, 'link', 'del', 'flannel.1');
    const off = () => {
      try {
        return /^\s*tx-checksum-ip-generic: off/m.test(execIn(n2.ns, 'ethtool', '-k', 'flannel.1'));
      } catch {
        return false;
      }
    };
    expect(await waitFor(off, DEADLINE.convergeMs, 100)).toBe(true);
  });
});

describe('the store goes away and comes back', () => {
  it('one warning naming the endpoint and --etcd-endpoints, /readyz 503 on the store, then an info line with the outage length', async () => {
    const p = n1.flanneld!;
    const from = p.output().length;
    await topo.etcd!.stop();
    await waitForOutput(p, (o) => o.slice(from).includes('cannot reach the etcd store'), DEADLINE.convergeMs, 'outage warning');
    const body = JSON.parse(topo.httpGet(n1, '/readyz').replace(/^503 /, '')) as { failing: string[] };
    expect(body.failing).toEqual(['store']);
    expect(topo.metric(n1, 'flannel_store_up')).toBe(0);
    await topo.etcd!.start();
    await waitForOutput(p, (o) => o.slice(from).includes('store answers again after'), DEADLINE.convergeMs, 'recovery');
    const lines = p.output().slice(from).trim().split('\n');
    // Every line is one of our JSON log lines: no gRPC chatter of its own.
    expect(lines.filter((l) => !l.startsWith('{'))).toEqual([]);
    const recs = lines.map((l) => JSON.parse(l) as { level: string; msg: string; endpoint?: string; outageSeconds?: number });
    const warnings = recs.filter((r) => r.level === 'warn' || r.level === 'error');
    expect(warnings.map((w) => w.msg)).toEqual([
      `cannot reach the etcd store at ${topo.etcd!.endpoint}; retrying quietly until it answers (check --etcd-endpoints and that the store is up)`,
    ]);
    const back = recs.find((r) => r.msg.includes('store answers again'))!;
    expect(back).toMatchObject({ level: 'info', endpoint: topo.etcd!.endpoint });
    expect(back.outageSeconds).toBeGreaterThan(0);
    expect(await waitFor(() => topo.httpGet(n1, '/readyz').startsWith('200 '), DEADLINE.convergeMs, 100)).toBe(true);
    expect(topo.metric(n1, 'flannel_store_reconnects_total')).toBe(1);
  });
});

describe('failures exit non-zero and say why', () => {
  const plugin = (name: string, body: string) => {
    const file = join(dir, `${name}.mjs`);
    writeFileSync(file, body);
    return file;
  };
  const embedded = (netConf: object, tag: string) => {
    const conf = join(dir, `${tag}.json`);
    writeFileSync(conf, JSON.stringify(netConf));
    return [
      '--embedded-subnet-mgr',
      `--embedded-store-path=${join(dir, `${tag}.jsonl`)}`,
      `--net-config-path=${conf}`,
      `--subnet-file=${join(dir, `${tag}.env`)}`,
    ];
  };

  it('a backend whose run() rejects after startup: exit 1, the backend named, not "Exiting cleanly"', async () => {
    const file = plugin(
      'dies',
      `export const backend = { name: 'dies', contractVersion: 1, create: (ctx) => ({ registerNetwork: async (config, signal) => ({
        lease: await ctx.subnetManager.acquireLease({ publicIP: ctx.extIface.extAddr, backendType: 'dies' }, signal), mtu: 1400,
        run: () => new Promise((_, reject) => setTimeout(() => reject(new Error('tunnel died')), 200)) }) }) };\n`,
    );
    const p = startProcess('node', [FLANNELD, ...embedded({ Network: '10.246.0.0/16', EnableNFTables: true, Backend: { Type: file } }, 'dies')], {
      netns: n3.ns,
    });
    expect(await waitForExit(p, DEADLINE.readyMs, 'flanneld with a dying backend')).toBe(1);
    expect(p.output()).toContain(`"msg":"the ${file} backend failed; exiting"`);
    expect(p.output()).toContain('"err":"tunnel died"');
    expect(p.output()).not.toContain('Exiting cleanly');
  });

  it('a registerNetwork that never settles: exit 1 naming the step', async () => {
    const file = plugin(
      'hangs',
      `export const backend = { name: 'hangs', contractVersion: 1, create: () => ({ registerNetwork: () => new Promise(() => {}) }) };\n`,
    );
    const p = startProcess('node', [FLANNELD, ...embedded({ Network: '10.247.0.0/16', EnableNFTables: true, Backend: { Type: file } }, 'hangs')], {
      netns: n3.ns,
    });
    expect(await waitForExit(p, DEADLINE.readyMs, 'flanneld with a hanging backend')).toBe(1);
    expect(p.output()).toContain(`flanneld stalled: the ${file} backend's registerNetwork (it acquires the lease) never finished`);
  });

  it('a wrong --iface fails before the store is asked, listing the interfaces and addresses', async () => {
    // Nothing listens at this endpoint: waiting for the config first would never end.
    const p = startProcess('node', [FLANNELD, '--etcd-endpoints=http://192.0.2.250:1', '--iface=eth9', '--log-format=text'], { netns: n3.ns });
    expect(await waitForExit(p, DEADLINE.readyMs, 'flanneld with a wrong --iface')).toBe(1);
    expect(p.output()).toMatch(/^\S+Z ERROR --iface: no interface is named or holds "eth9"; this host has lo \(127\.0\.0\.1\/8.*\), eth0 \(192\.0\.2\.13\/24/m);
  });

  it('a bad flag is reported in the log format, with exit 2', async () => {
    const p = startProcess('node', [FLANNELD, '--log-format=json', '--healthz-port=http'], { netns: n3.ns });
    expect(await waitForExit(p, DEADLINE.readyMs, 'flanneld with a bad flag')).toBe(2);
    const rec = JSON.parse(p.output().trim()) as Record<string, string>;
    expect(rec).toMatchObject({
      level: 'error',
      field: '-healthz-port',
      msg: 'flanneld: -healthz-port: invalid value "http" for flag -healthz-port: parse error; give a whole number',
    });
  });
});

describe('flanneld --cleanup --dry-run', () => {
  it('prints what it would remove and removes nothing', () => {
    const r = runIn(n1.ns, 'node', FLANNELD, '--cleanup', '--dry-run');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('flanneld --cleanup would remove:\n');
    expect(r.stdout).toContain('  device   flannel.1\n');
    expect(r.stdout).toContain(`  route    ${topo.leaseSubnet(n2)} (proto 70)\n`);
    expect(ipIn(n1.ns, 'link', 'show', 'flannel.1')).toContain('flannel.1');
  });
});

describe('flannelctl etcd migrate (Go flannel v0.11 keeps its keys in etcd v2)', () => {
  // Go v0.11's store: an etcd serving the v2 API (--enable-v2), on loopback, with its own data dir.
  const port = 20000 + Math.floor(Math.random() * 20000);
  const etcd = { endpoint: `http://127.0.0.1:${port}`, proc: undefined as Started | undefined };
  const v2put = async (key: string, value: string, ttl?: number) => {
    const body = new URLSearchParams({ value, ...(ttl ? { ttl: String(ttl) } : {}) });
    const r = await fetch(`${etcd.endpoint}/v2/keys${key}`, { method: 'PUT', body });
    expect(`${r.status} ${r.ok ? '' : await r.text()}`).toMatch(/^20[01] $/);
  };
  const migrate = (...args: string[]) => {
    const r = spawnSync('node', [FLANNELCTL, 'etcd', 'migrate', `--etcd-endpoints=${etcd.endpoint}`, ...args], {
      encoding: 'utf8',
      timeout: DEADLINE.convergeMs,
    });
    return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  };
  const v3 = (...args: string[]) => sh('etcdctl', ['--endpoints', etcd.endpoint, ...args]).trim();

  beforeAll(async () => {
    const data = join(dir, 'etcd-v2');
    const peer = `http://127.0.0.1:${port + 1}`;
    etcd.proc = startProcess('etcd', [
      '--name',
      `${RUN_PREFIX}v2`,
      '--data-dir',
      data,
      '--enable-v2',
      '--listen-client-urls',
      etcd.endpoint,
      '--advertise-client-urls',
      etcd.endpoint,
      '--listen-peer-urls',
      peer,
      '--initial-advertise-peer-urls',
      peer,
      '--initial-cluster',
      `${RUN_PREFIX}v2=${peer}`,
    ]);
    await waitForOutput(etcd.proc, (o) => o.includes('ready to serve client requests'), DEADLINE.readyMs, 'etcd --enable-v2');
  });
  afterAll(async () => {
    if (etcd.proc) await stopProcess(etcd.proc.child);
  });

  it('dry run by default; --apply copies config and leases with their TTL; running it again changes nothing', async () => {
    const config = '{"Network":"10.248.0.0/16","Backend":{"Type":"vxlan"}}';
    const lease = '{"PublicIP":"198.51.100.21","BackendType":"vxlan","BackendData":{"VtepMAC":"0e:00:00:00:00:21"}}';
    const reservation = '{"PublicIP":"198.51.100.22"}';
    await v2put('/coreos.com/network/config', config);
    await v2put('/coreos.com/network/subnets/10.248.21.0-24', lease, 3600);
    await v2put('/coreos.com/network/subnets/10.248.22.0-24', reservation);

    const dry = migrate();
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('would create /coreos.com/network/subnets/10.248.21.0-24');
    expect(dry.stdout).toContain('dry run: 3 keys would be written to v3');
    expect(v3('get', '--prefix', '/coreos.com/network', '--keys-only')).toBe('');

    const applied = migrate('--apply');
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain('3 keys written to v3, 0 already there, 0 left alone');
    expect(v3('get', '/coreos.com/network/config', '--print-value-only')).toBe(config);
    expect(v3('get', '/coreos.com/network/subnets/10.248.21.0-24', '--print-value-only')).toBe(lease);
    // The one lease in this etcd (a 64-bit ID: etcdctl's JSON would lose its digits in JSON.parse).
    const leases = v3('lease', 'list').split('\n').slice(1);
    expect(leases).toHaveLength(1);
    const leaseId = leases[0]!.trim();
    const ttl = Number(/remaining\((\d+)s\)/.exec(v3('lease', 'timetolive', leaseId))![1]);
    expect(ttl).toBeGreaterThan(3000);
    expect(ttl).toBeLessThanOrEqual(3600);
    const reserved = JSON.parse(v3('get', '/coreos.com/network/subnets/10.248.22.0-24', '-w', 'json')) as { kvs: { lease?: number }[] };
    expect(reserved.kvs[0]!.lease ?? 0).toBe(0);

    const again = migrate('--apply');
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('0 keys written to v3, 3 already there, 0 left alone');
  });
});

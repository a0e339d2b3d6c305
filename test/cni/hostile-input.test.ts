// ADD given what an attacker or a careless operator would give it. Every case must answer CNI error JSON
// with the spec's code, write nothing outside dataDir, and leave nothing behind: a DEL with the same input
// answers as the spec says (success wherever the input names an attachment), and a well-formed DEL then
// succeeds and finds no state file, no host-local reservation and no veth.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PLUGIN_PATH } from '../harness/cni.js';
import { CniFixture, fakeDelegate, UNUSABLE_SUBNET_ENVS } from './fixture.js';

interface Case {
  what: string;
  code: number;
  msg?: string;
  /** What a DEL with the very same input answers: 0, or the same error when the input names no attachment. */
  del: number;
  conf?: (f: CniFixture) => object | string;
  id?: string;
  ifname?: string;
  env?: Record<string, string | undefined>;
  setup?: (f: CniFixture) => Record<string, unknown> | void;
  /** The fake delegate whose ADD ran, and whose DEL must then have rolled it back. */
  rolledBackBy?: string;
}

const f = new CniFixture('hostile');
const PWNED = join(f.root, 'pwned');

beforeAll(() => {
  // A script a path-traversing type could reach; it leaves a mark outside dataDir if it ever runs.
  mkdirSync(join(f.root, 'evil'));
  writeFileSync(join(f.root, 'evil', 'pwn.sh'), `#!/bin/sh\n/usr/bin/touch ${PWNED}\n`);
  chmodSync(join(f.root, 'evil', 'pwn.sh'), 0o755);
  // The canary works in a plugin's environment, so its absence below means it never ran.
  spawnSync(join(f.root, 'evil', 'pwn.sh'), { env: { PATH: PLUGIN_PATH } });
  expect(existsSync(PWNED)).toBe(true);
  rmSync(PWNED);
  mkdirSync(join(f.fakeBinDir, 'a-directory'));
  writeFileSync(join(f.fakeBinDir, 'not-executable'), '#!/bin/sh\nexit 0\n');
  fakeDelegate(f, 'killed', 'kill -KILL $$');
  fakeDelegate(f, 'silent-failure', 'exit 1');
  fakeDelegate(f, 'garbage', 'echo hello; exit 0');
  fakeDelegate(f, 'empty-object', 'echo "{}"; exit 0');
  fakeDelegate(f, 'error-on-success', `echo '{"cniVersion":"1.0.0","code":7,"msg":"oops"}'; exit 0`);
  fakeDelegate(f, 'cni-error', `echo '{"cniVersion":"1.0.0","code":7,"msg":"bad thing","details":"from the delegate"}'; exit 1`);
  fakeDelegate(f, 'future-only', 'exit 0', ['2.0.0']);
  writeFileSync(join(f.fakeBinDir, 'bad-version'), '#!/bin/sh\necho nonsense\n');
  chmodSync(join(f.fakeBinDir, 'bad-version'), 0o755);
});
afterAll(() => f.cleanup());

const withConf = (over: Record<string, unknown>) => (fx: CniFixture) => fx.conf(over);
const withDelegate = (delegate: unknown) => withConf({ delegate });
const withIpam = (ipam: unknown) => (fx: CniFixture) => fx.conf({ ipam });

const cases: Case[] = [
  // CNI_* variables: code 4, checked before the disk is touched.
  { what: 'no CNI_CONTAINERID', code: 4, msg: 'CNI_CONTAINERID', del: 4, env: { CNI_CONTAINERID: undefined } },
  ...['../escape', '../../escape', '.hidden', 'a/b', '-dash', 'a b', 'x:y'].map((id): Case => ({
    what: `CNI_CONTAINERID ${JSON.stringify(id)}`,
    code: 4,
    msg: 'CNI_CONTAINERID',
    del: 4,
    id,
  })),
  ...['eth0123456789012', 'ééééééééé', 'a/b', 'a:b', 'a b', 'tab\t', '.', '..'].map((ifname): Case => ({
    what: `CNI_IFNAME ${JSON.stringify(ifname)}`,
    code: 4,
    msg: 'CNI_IFNAME',
    del: 4,
    ifname,
  })),
  { what: 'no CNI_NETNS', code: 4, msg: 'CNI_NETNS', del: 0, env: { CNI_NETNS: undefined } },
  { what: 'no CNI_PATH', code: 4, msg: 'CNI_PATH', del: 4, env: { CNI_PATH: undefined } },
  { what: 'a relative CNI_PATH', code: 4, msg: 'CNI_PATH', del: 4, env: { CNI_PATH: 'cni-bin:../lib' } },
  { what: 'an unknown CNI_COMMAND', code: 4, msg: 'unknown CNI_COMMAND', del: 4, env: { CNI_COMMAND: 'FOO' } },
  // stdin that does not decode: 6.
  { what: 'truncated JSON', code: 6, msg: 'not valid JSON', del: 6, conf: () => '{"name":' },
  { what: 'empty stdin', code: 6, msg: 'not valid JSON', del: 6, conf: () => '' },
  { what: 'a JSON list', code: 6, msg: 'must be a JSON object', del: 6, conf: () => '[1]' },
  { what: '2 MiB of stdin', code: 6, msg: 'too large', del: 6, conf: (fx) => JSON.stringify({ ...fx.conf(), pad: 'x'.repeat(2 << 20) }) },
  // cniVersion: 1.
  ...[1, null, '9.9.9', '1.0', true].map((v): Case => ({
    what: `cniVersion ${JSON.stringify(v)}`,
    code: 1,
    msg: 'cniVersion',
    del: 1,
    conf: withConf({ cniVersion: v }),
  })),
  // The network name and dataDir, which every command uses: 7.
  { what: 'no network name', code: 7, msg: 'network name', del: 7, conf: withConf({ name: undefined }) },
  ...['../escape', 'a:b', 'a/b', 5].map((name): Case => ({
    what: `network name ${JSON.stringify(name)}`,
    code: 7,
    msg: 'network name',
    del: 7,
    conf: withConf({ name }),
  })),
  ...['relative/dir', 5, ''].map((dataDir): Case => ({
    what: `dataDir ${JSON.stringify(dataDir)}`,
    code: 7,
    msg: 'dataDir',
    del: 7,
    conf: withConf({ dataDir }),
  })),
  // The rest of the config, which only ADD uses: 7, and DEL with it still succeeds.
  { what: 'a relative subnetFile', code: 7, msg: 'subnetFile', del: 0, conf: withConf({ subnetFile: 'subnet.env' }) },
  { what: 'a delegate that is a string', code: 7, msg: '"delegate" must be an object', del: 0, conf: withDelegate('bridge') },
  { what: 'a delegate that names itself', code: 7, msg: "it'll be set by flannel", del: 0, conf: withDelegate({ name: 'x' }) },
  { what: 'a delegate with ipam', code: 7, msg: 'must not contain "ipam"', del: 0, conf: withDelegate({ ipam: {} }) },
  ...['../evil/pwn.sh', '../../../../../../bin/sh', '/bin/sh', '', '.', '..', 5].map((type): Case => ({
    what: `delegate type ${JSON.stringify(type)}`,
    code: 7,
    msg: 'delegate.type',
    del: 0,
    conf: withDelegate({ type }),
  })),
  ...['sh', 'a-directory', 'not-executable'].map((type): Case => ({
    what: `delegate type "${type}"`,
    code: 7,
    msg: 'failed to find plugin',
    del: 0,
    conf: withDelegate({ type }),
  })),
  ...['1500', 1e9, 1.5, 0].map((mtu): Case => ({
    what: `delegate mtu ${JSON.stringify(mtu)}`,
    code: 7,
    msg: 'delegate.mtu',
    del: 0,
    conf: withDelegate({ mtu }),
  })),
  { what: 'ipam that is a string', code: 7, msg: '"ipam" must be an object', del: 0, conf: withIpam('host-local') },
  { what: 'ipam.routes "str"', code: 7, msg: 'ipam.routes', del: 0, conf: (fx) => fx.conf({ ipam: { dataDir: fx.hostLocalDir, routes: 'str' } }) },
  { what: 'ipam.routes [null]', code: 7, msg: 'ipam.routes', del: 0, conf: (fx) => fx.conf({ ipam: { dataDir: fx.hostLocalDir, routes: [null] } }) },
  {
    what: 'a route to no CIDR',
    code: 7,
    msg: 'ipam.routes',
    del: 0,
    conf: (fx) => fx.conf({ ipam: { dataDir: fx.hostLocalDir, routes: [{ dst: 'bogus' }] } }),
  },
  {
    what: 'ipam type "../evil/pwn.sh"',
    code: 7,
    msg: 'ipam.type',
    del: 0,
    conf: (fx) => fx.conf({ ipam: { dataDir: fx.hostLocalDir, type: '../evil/pwn.sh' } }),
  },
  ...['str', [], 5].map((runtimeConfig): Case => ({
    what: `runtimeConfig ${JSON.stringify(runtimeConfig)}`,
    code: 7,
    msg: 'runtimeConfig',
    del: 0,
    conf: withConf({ runtimeConfig }),
  })),
  // subnet.env that ADD cannot use: 11 (try again later).
  ...UNUSABLE_SUBNET_ENVS.map(([what, setup]): Case => ({ what: `subnet.env: ${what}`, code: 11, msg: 'subnet.env', del: 0, setup })),
  // Delegates that fail in every way a process can: CNI error JSON all the same, and the ADD rolled back.
  { what: 'a delegate killed by a signal', code: 999, msg: 'killed by SIGKILL', del: 0, conf: withDelegate({ type: 'killed' }), rolledBackBy: 'killed' },
  {
    what: 'a delegate failing silently',
    code: 999,
    msg: 'printed nothing',
    del: 0,
    conf: withDelegate({ type: 'silent-failure' }),
    rolledBackBy: 'silent-failure',
  },
  {
    what: 'a delegate printing garbage',
    code: 999,
    msg: 'did not print a CNI result',
    del: 0,
    conf: withDelegate({ type: 'garbage' }),
    rolledBackBy: 'garbage',
  },
  {
    what: 'a delegate printing {}',
    code: 999,
    msg: 'names no CNI version',
    del: 0,
    conf: withDelegate({ type: 'empty-object' }),
    rolledBackBy: 'empty-object',
  },
  {
    what: 'a delegate printing an error with exit 0',
    code: 999,
    msg: 'printed an error object',
    del: 0,
    conf: withDelegate({ type: 'error-on-success' }),
    rolledBackBy: 'error-on-success',
  },
  { what: 'a delegate answering a CNI error', code: 7, msg: 'bad thing', del: 0, conf: withDelegate({ type: 'cni-error' }), rolledBackBy: 'cni-error' },
  { what: 'a delegate with a garbled VERSION', code: 999, msg: 'VERSION', del: 0, conf: withDelegate({ type: 'bad-version' }) },
  { what: 'a delegate with no version in common', code: 1, msg: 'none of them usable', del: 0, conf: withDelegate({ type: 'future-only' }) },
  {
    what: 'bridge failing after host-local reserved an address',
    code: 999,
    msg: 'network is unreachable',
    del: 0,
    conf: (fx) => fx.conf({ ipam: { dataDir: fx.hostLocalDir, routes: [{ dst: '192.0.2.0/24', gw: '198.51.100.1' }] } }),
  },
];

describe('flannel CNI ADD with hostile or broken input', () => {
  it.each(cases)('$what: code $code, nothing written outside dataDir, nothing left', (c) => {
    f.resetSubnetEnv();
    const over = c.setup?.(f) ?? {};
    const input = c.conf ? c.conf(f) : f.conf(over);
    const call = { containerID: c.id ?? 'hostile', ifname: c.ifname ?? 'eth0', env: c.env ?? {} };
    const before = f.writtenOutside();

    const r = f.run('ADD', input, call);
    expect(r.code).toBe(1);
    expect(r.json).toMatchObject({ code: c.code, msg: expect.stringContaining(c.msg ?? '') });
    expect(r.stdout + r.stderr).not.toMatch(/\n\s+at /);
    expect(f.writtenOutside()).toEqual(before);
    expect(existsSync(PWNED)).toBe(false);
    if (c.rolledBackBy) expect(f.calls(c.rolledBackBy)).toEqual(['VERSION hostile eth0', 'ADD hostile eth0', 'DEL hostile eth0']);

    const sameDel = f.run('DEL', input, call);
    expect(sameDel.code).toBe(c.del === 0 ? 0 : 1);
    if (c.del) expect(sameDel.json).toMatchObject({ code: c.del });

    expect(f.run('DEL', f.conf(), { containerID: 'hostile' })).toMatchObject({ code: 0, stdout: '' });
    expect(f.leftovers('hostile')).toEqual([]);
    expect(f.writtenOutside()).toEqual(before);
  });
});

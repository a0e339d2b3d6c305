// CNI 1.1's GC and STATUS. GC must release the addresses of attachments the runtime no longer lists (bridge
// 1.1.1 has no GC: host-local's DEL does it), act on this network's attachments only, survive whatever else
// sits in dataDir, and refuse a malformed list before removing anything. STATUS must say ready exactly
// when ADD can work.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createNetns } from '../harness/netns.js';
import { CniFixture, fakeDelegate, UNUSABLE_SUBNET_ENVS } from './fixture.js';

const f = new CniFixture('gc');
afterAll(() => f.cleanup());

const gcConf = (valid: unknown, over: Record<string, unknown> = {}) => f.conf({ cniVersion: '1.1.0', 'cni.dev/valid-attachments': valid, ...over });
const gc = (valid: unknown, over: Record<string, unknown> = {}) =>
  f.run('GC', gcConf(valid, over), { env: { CNI_CONTAINERID: undefined, CNI_NETNS: undefined, CNI_IFNAME: undefined } });

describe('flannel CNI GC', () => {
  const pods: Record<string, string> = {};
  const env2 = join(f.root, 'subnet2.env');
  const other = () => f.conf({ name: 'cbr1', subnetFile: env2, delegate: { bridge: 'cni1' } });

  beforeAll(() => {
    writeFileSync(env2, 'FLANNEL_NETWORK=10.245.0.0/16\nFLANNEL_SUBNET=10.245.3.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n');
    for (const id of ['keep', 'stale', 'other']) pods[id] = createNetns(`gc-${id}`);
    expect(f.run('ADD', f.conf(), { containerID: 'keep', podNs: pods.keep! }).code).toBe(0);
    expect(f.run('ADD', f.conf(), { containerID: 'keep', podNs: pods.keep!, ifname: 'net1' }).code).toBe(0);
    expect(f.run('ADD', f.conf(), { containerID: 'stale', podNs: pods.stale! }).code).toBe(0);
    // Another flannel network sharing dataDir and host-local's dir; the runtime GCs it separately.
    expect(f.run('ADD', other(), { containerID: 'other', podNs: pods.other! }).code).toBe(0);
    // Things that are not our state: a subdirectory named like state, junk, a Go-layout file, a temp file.
    mkdirSync(f.stateFile('subdir'));
    for (const junk of ['junk', 'cbr0:bad', 'cbr0:a:b:c', '.cbr0:x:eth0.1.tmp']) writeFileSync(join(f.dataDir, junk), 'x');
    writeFileSync(join(f.dataDir, 'golayout'), '{"name":"cbr0","type":"bridge"}');
  });

  it.each([
    ['no list', undefined],
    ['a list that is a string', 'keep'],
    ['[null]', [null]],
    ['an entry without ifname', [{ containerID: 'keep' }]],
    ['an entry with a numeric containerID', [{ containerID: 5, ifname: 'eth0' }]],
  ])('refuses %s with code 7 and removes nothing', (_what, valid) => {
    const before = readdirSync(f.dataDir).sort();
    expect(gc(valid).json).toMatchObject({ code: 7, msg: expect.stringContaining('cni.dev/valid-attachments') });
    expect(readdirSync(f.dataDir).sort()).toEqual(before);
    expect(f.reservations('stale')).toHaveLength(1);
  });

  it('is refused below cniVersion 1.1.0', () => {
    expect(gc([], { cniVersion: '1.0.0' }).json).toMatchObject({ code: 1, msg: 'config version does not allow GC' });
  });

  it('releases the state and the address of an attachment no longer listed, and nothing else', () => {
    const r = gc([
      { containerID: 'keep', ifname: 'eth0' },
      { containerID: 'keep', ifname: 'net1' },
    ]);
    expect(r).toMatchObject({ code: 0, stdout: '' });
    expect(existsSync(f.stateFile('stale'))).toBe(false);
    expect(f.reservations('stale')).toEqual([]);
    expect(f.reservations('keep')).toHaveLength(2);
    expect(existsSync(f.stateFile('keep'))).toBe(true);
    expect(existsSync(f.stateFile('keep', 'net1'))).toBe(true);
    expect(existsSync(f.stateFile('other', 'eth0', 'cbr1'))).toBe(true);
    expect(f.reservations('other')).toHaveLength(1);
    const notOurs = ['cbr0:subdir:eth0', 'junk', 'cbr0:bad', 'cbr0:a:b:c', '.cbr0:x:eth0.1.tmp', 'golayout'];
    expect(readdirSync(f.dataDir)).toEqual(expect.arrayContaining(notOurs));
  });

  it('tells attachments of one container apart by interface', () => {
    expect(gc([{ containerID: 'keep', ifname: 'eth0' }])).toMatchObject({ code: 0, stdout: '' });
    expect(existsSync(f.stateFile('keep', 'net1'))).toBe(false);
    expect(f.reservations('keep')).toHaveLength(1);
  });

  it('GC of the other network releases only its own', () => {
    const r = f.run('GC', { ...other(), cniVersion: '1.1.0', 'cni.dev/valid-attachments': [] }, { env: { CNI_CONTAINERID: undefined, CNI_NETNS: undefined } });
    expect(r).toMatchObject({ code: 0, stdout: '' });
    expect(f.reservations('other')).toEqual([]);
    expect(f.reservations('keep')).toHaveLength(1);
  });

  it("sends GC on to a delegate that speaks 1.1.0, with the runtime's list", () => {
    fakeDelegate(f, 'collector', 'exit 0', ['1.0.0', '1.1.0']);
    const valid = [{ containerID: 'keep', ifname: 'eth0' }];
    expect(gc(valid, { delegate: { type: 'collector' } })).toMatchObject({ code: 0, stdout: '' });
    expect(f.calls('collector')).toEqual(['VERSION', 'GC']);
    const sent = JSON.parse(readFileSync(join(f.callsDir, 'collector.GC.stdin'), 'utf8')) as Record<string, unknown>;
    expect(sent).toMatchObject({ cniVersion: '1.1.0', name: 'cbr0', type: 'collector', 'cni.dev/valid-attachments': valid, ipam: { type: 'host-local' } });
  });

  afterAll(() => {
    for (const [id, pod] of Object.entries(pods)) f.run('DEL', id === 'other' ? other() : f.conf(), { containerID: id, podNs: pod });
  });
});

describe('flannel CNI STATUS', () => {
  const status = (over: Record<string, unknown> = {}) =>
    f.run('STATUS', f.conf({ cniVersion: '1.1.0', ...over }), { env: { CNI_CONTAINERID: undefined, CNI_NETNS: undefined, CNI_IFNAME: undefined } });
  beforeEach(() => f.resetSubnetEnv());

  it('is 0 when subnet.env is usable and the delegate is installed', () => {
    expect(status()).toMatchObject({ code: 0, stdout: '' });
  });

  it.each(UNUSABLE_SUBNET_ENVS)('is 50 for %s, as ADD then fails', (_what, setup) => {
    const over = setup(f) ?? {};
    const r = status(over);
    expect(r.json).toMatchObject({ code: 50, msg: expect.stringContaining('subnet.env') });
    expect(f.run('ADD', f.conf(over), { containerID: 'status' }).json).toMatchObject({ code: 11 });
  });

  it('is 50 while the delegate plugin is not installed', () => {
    expect(status({ delegate: { type: 'not-installed' } }).json).toMatchObject({ code: 50, msg: expect.stringContaining('not-installed') });
  });

  it('passes on the STATUS of a delegate that speaks 1.1.0', () => {
    fakeDelegate(f, 'unwell', `echo '{"cniVersion":"1.1.0","code":50,"msg":"no uplink"}'; exit 1`, ['1.0.0', '1.1.0']);
    expect(status({ delegate: { type: 'unwell' } }).json).toMatchObject({ code: 50, msg: 'no uplink' });
  });

  it('is refused below cniVersion 1.1.0', () => {
    expect(status({ cniVersion: '1.0.0' }).json).toMatchObject({ code: 1, msg: 'config version does not allow STATUS' });
  });
});

// The flannel CNI plugin against the real bridge and host-local plugins (Debian containernetworking-plugins).
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cniExec } from '../harness/cni.js';
import { cleanupNetns, createNetns, ipIn, ipJson, RUN_PREFIX } from '../harness/netns.js';

// Made at load time: the it.each table below builds configs that name files in it.
const dir = mkdtempSync(join(tmpdir(), `${RUN_PREFIX}cni-`));
let node: string;
let pods: string[];
const subnetFile = () => join(dir, 'subnet.env');
const dataDir = () => join(dir, 'flannel');
const conf = (over: object = {}) => ({
  cniVersion: '1.0.0',
  name: 'cbr0',
  type: 'flannel',
  subnetFile: subnetFile(),
  dataDir: dataDir(),
  delegate: { hairpinMode: true, isDefaultGateway: true },
  ipam: { dataDir: join(dir, 'host-local') },
  ...over,
});
const add = (pod: string, id: string, c: object = conf()) => cniExec(node, 'flannel', c, { command: 'ADD', containerID: id, podNs: pod });

beforeAll(() => {
  writeFileSync(subnetFile(), 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.7.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n');
  node = createNetns('cninode');
  pods = [createNetns('cnipod1'), createNetns('cnipod2')];
});
afterAll(() => {
  cleanupNetns();
  rmSync(dir, { recursive: true, force: true });
});

describe('flannel CNI plugin', () => {
  it('ADD gives the pod an address from FLANNEL_SUBNET, a route to FLANNEL_NETWORK and the MTU, and saves the exact delegate', () => {
    const r = add(pods[0]!, 'c1');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const ips = r.json!.ips as { address: string; gateway: string }[];
    expect(ips).toHaveLength(1);
    expect(ips[0]!.address).toMatch(/^10\.244\.7\.\d+\/24$/);
    expect(ips[0]!.gateway).toBe('10.244.7.1');
    const routes = ipJson<{ dst: string; gateway?: string }[]>(pods[0]!, 'route', 'show');
    expect(routes).toContainEqual(expect.objectContaining({ dst: '10.244.0.0/16', gateway: '10.244.7.1' }));
    expect(ipJson<{ mtu: number }[]>(pods[0]!, 'link', 'show', 'eth0')[0]!.mtu).toBe(1450);
    expect(statSync(dataDir()).mode & 0o777).toBe(0o700);
    expect(statSync(join(dataDir(), 'c1')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dataDir(), 'c1'), 'utf8')).toBe(
      `{"cniVersion":"1.0.0","hairpinMode":true,"ipMasq":false,"ipam":{"dataDir":"${join(dir, 'host-local')}","ranges":[[{"subnet":"10.244.7.0/24"}]],"routes":[{"dst":"10.244.0.0/16"}],"type":"host-local"},"isDefaultGateway":true,"isGateway":true,"mtu":1450,"name":"cbr0","type":"bridge"}`,
    );
  });

  it('CHECK passes for a good pod, and fails once its address is gone', () => {
    const result = add(pods[1]!, 'c2');
    expect(result.code).toBe(0);
    const check = () => cniExec(node, 'flannel', conf({ prevResult: result.json }), { command: 'CHECK', containerID: 'c2', podNs: pods[1] });
    expect(check()).toMatchObject({ code: 0, stdout: '' });
    ipIn(pods[1]!, 'addr', 'flush', 'dev', 'eth0');
    const broken = check();
    expect(broken.code).not.toBe(0);
    expect(broken.json).toMatchObject({ code: expect.any(Number), msg: expect.any(String) });
  });

  it('CHECK of a container it never added fails with "unknown container"', () => {
    expect(cniExec(node, 'flannel', conf(), { command: 'CHECK', containerID: 'nope', podNs: pods[0] }).json).toMatchObject({ code: 3 });
  });

  it('DEL removes the pod\'s interface and the saved config, and a second DEL succeeds', () => {
    expect(cniExec(node, 'flannel', conf(), { command: 'DEL', containerID: 'c1', podNs: pods[0] }).code).toBe(0);
    expect(existsSync(join(dataDir(), 'c1'))).toBe(false);
    expect(ipJson<{ ifname: string }[]>(pods[0]!, 'link', 'show').map((l) => l.ifname)).not.toContain('eth0');
    expect(cniExec(node, 'flannel', conf(), { command: 'DEL', containerID: 'c1', podNs: pods[0] })).toMatchObject({ code: 0, stdout: '' });
  });

  it('STATUS is 50 without a usable subnet.env, and 0 with one', () => {
    expect(cniExec(node, 'flannel', conf(), { command: 'STATUS' }).code).toBe(0);
    const missing = cniExec(node, 'flannel', conf({ subnetFile: join(dir, 'nope.env') }), { command: 'STATUS' });
    expect(missing.json).toMatchObject({ code: 50, msg: expect.stringContaining('flanneld is not running or not ready on this node') });
  });

  it('GC removes saved configs of containers the runtime no longer has', () => {
    writeFileSync(join(dataDir(), 'stale'), '{}');
    const r = cniExec(node, 'flannel', conf({ 'cni.dev/valid-attachments': [{ containerID: 'c2', ifname: 'eth0' }] }), { command: 'GC' });
    expect(r.code).toBe(0);
    expect(existsSync(join(dataDir(), 'stale'))).toBe(false);
    expect(existsSync(join(dataDir(), 'c2'))).toBe(true);
  });

  it('VERSION lists the CNI versions it speaks, up to 1.1.0', () => {
    expect(cniExec(node, 'flannel', '', { command: 'VERSION' }).json).toEqual({ cniVersion: '1.1.0', supportedVersions: ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
  });

  it.each([
    ['malformed stdin', '{"name":', {}, 6, 'not valid JSON'],
    ['a delegate that names itself', conf({ delegate: { name: 'x' } }), {}, 7, 'it\'ll be set by flannel'],
    ['a delegate with ipam', conf({ delegate: { ipam: {} } }), {}, 7, 'must not contain "ipam"'],
    ['a missing CNI_CONTAINERID', conf(), { CNI_CONTAINERID: undefined }, 4, 'CNI_CONTAINERID is not set'],
    ['a missing subnet.env', conf({ subnetFile: join('/nonexistent', 'subnet.env') }), {}, 11, 'flanneld is not running or not ready on this node'],
  ])('answers %s with CNI error JSON, never a stack trace', (_what, input, env, code, text) => {
    const r = cniExec(node, 'flannel', input, { command: 'ADD', containerID: 'e1', podNs: pods[0], env: env as Record<string, undefined> });
    expect(r.code).toBe(1);
    expect(r.json).toMatchObject({ code, msg: expect.stringContaining(text) });
    expect(r.stdout + r.stderr).not.toMatch(/\n\s+at /);
  });
});

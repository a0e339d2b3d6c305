// The flannel CNI plugin against the real bridge and host-local plugins (Debian containernetworking-plugins).
import { chmodSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cniExec } from '../harness/cni.js';
import { createNetns, ipIn, ipJson } from '../harness/netns.js';
import { CniFixture } from './fixture.js';

const f = new CniFixture('plugin');
afterAll(() => f.cleanup());

describe('flannel CNI plugin', () => {
  it('ADD gives the pod an address from FLANNEL_SUBNET, a route to FLANNEL_NETWORK and the MTU, and saves the exact delegate', () => {
    const r = f.run('ADD', f.conf(), { containerID: 'c1' });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const ips = r.json!.ips as { address: string; gateway: string }[];
    expect(ips).toHaveLength(1);
    expect(ips[0]!.address).toMatch(/^10\.244\.7\.\d+\/24$/);
    expect(ips[0]!.gateway).toBe('10.244.7.1');
    const routes = ipJson<{ dst: string; gateway?: string }[]>(f.pod, 'route', 'show');
    expect(routes).toContainEqual(expect.objectContaining({ dst: '10.244.0.0/16', gateway: '10.244.7.1' }));
    expect(ipJson<{ mtu: number }[]>(f.pod, 'link', 'show', 'eth0')[0]!.mtu).toBe(1450);
    expect(statSync(f.dataDir).mode & 0o777).toBe(0o700);
    expect(statSync(f.stateFile('c1')).mode & 0o777).toBe(0o600);
    // Byte for byte what Go's plugin saves (in its layout, <dataDir>/<containerID>).
    expect(readFileSync(f.stateFile('c1'), 'utf8')).toBe(
      `{"cniVersion":"1.0.0","hairpinMode":true,"ipMasq":false,"ipam":{"dataDir":"${f.hostLocalDir}","ranges":[[{"subnet":"10.244.7.0/24"}]],"routes":[{"dst":"10.244.0.0/16"}],"type":"host-local"},"isDefaultGateway":true,"isGateway":true,"mtu":1450,"name":"cbr0","type":"bridge"}`,
    );
  });

  it('CHECK passes for a good pod, and fails once its address is gone', () => {
    const pod = createNetns('plugin-c2');
    const result = f.run('ADD', f.conf(), { containerID: 'c2', podNs: pod });
    expect(result.code).toBe(0);
    const check = () => f.run('CHECK', f.conf({ prevResult: result.json }), { containerID: 'c2', podNs: pod });
    expect(check()).toMatchObject({ code: 0, stdout: '' });
    ipIn(pod, 'addr', 'flush', 'dev', 'eth0');
    const broken = check();
    expect(broken.code).not.toBe(0);
    expect(broken.json).toMatchObject({ code: expect.any(Number), msg: expect.any(String) });
    expect(f.run('DEL', f.conf(), { containerID: 'c2', podNs: pod }).code).toBe(0);
    expect(f.leftovers('c2', { pod, othersUp: true })).toEqual([]);
  });

  it('CHECK of a container it never added fails with "unknown container"', () => {
    expect(f.run('CHECK', f.conf(), { containerID: 'nope' }).json).toMatchObject({ code: 3 });
  });

  it("DEL removes the pod's interface, its address and the saved config, and a second DEL succeeds", () => {
    expect(f.run('DEL', f.conf(), { containerID: 'c1' })).toMatchObject({ code: 0, stdout: '' });
    expect(f.leftovers('c1')).toEqual([]);
    expect(f.run('DEL', f.conf(), { containerID: 'c1' })).toMatchObject({ code: 0, stdout: '' });
  });

  it('VERSION lists the CNI versions it speaks, up to 1.1.0', () => {
    expect(cniExec(f.node, 'flannel', '', { command: 'VERSION' }).json).toEqual({
      cniVersion: '1.1.0',
      supportedVersions: ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'],
    });
  });

  it('tightens an existing dataDir to 0700 and replaces a looser state file with a 0600 one', () => {
    chmodSync(f.dataDir, 0o755);
    writeFileSync(f.stateFile('c3'), '{}', { mode: 0o644 });
    chmodSync(f.stateFile('c3'), 0o644);
    expect(f.run('ADD', f.conf(), { containerID: 'c3' }).code).toBe(0);
    expect(statSync(f.dataDir).mode & 0o777).toBe(0o700);
    expect(statSync(f.stateFile('c3')).mode & 0o777).toBe(0o600);
    expect(f.run('DEL', f.conf(), { containerID: 'c3' }).code).toBe(0);
    expect(f.leftovers('c3')).toEqual([]);
  });

  it('replaces a symlink planted at the state path instead of writing through it', () => {
    const victim = join(f.root, 'victim');
    writeFileSync(victim, 'precious');
    symlinkSync(victim, f.stateFile('c4'));
    expect(f.run('ADD', f.conf(), { containerID: 'c4' }).code).toBe(0);
    expect(readFileSync(victim, 'utf8')).toBe('precious');
    expect(lstatSync(f.stateFile('c4')).isFile()).toBe(true);
    expect(f.run('DEL', f.conf(), { containerID: 'c4' }).code).toBe(0);
    expect(f.leftovers('c4')).toEqual([]);
    expect(readFileSync(victim, 'utf8')).toBe('precious');
  });

  it('keeps one container on two flannel networks apart (Multus): each DEL releases only its own', () => {
    const pod = createNetns('plugin-multi');
    const env2 = join(f.root, 'subnet2.env');
    writeFileSync(env2, 'FLANNEL_NETWORK=10.245.0.0/16\nFLANNEL_SUBNET=10.245.3.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n');
    const second = f.conf({ name: 'cbr1', subnetFile: env2, delegate: { bridge: 'cni1' } });
    expect(f.run('ADD', f.conf(), { containerID: 'multi', podNs: pod, ifname: 'eth0' }).code).toBe(0);
    expect(f.run('ADD', second, { containerID: 'multi', podNs: pod, ifname: 'net1' }).code).toBe(0);
    const addrs = () => ipJson<{ ifname: string; addr_info: { local: string }[] }[]>(pod, 'addr', 'show').filter((l) => l.ifname !== 'lo');
    expect(
      addrs()
        .map((l) => `${l.ifname} ${l.addr_info[0]!.local}`)
        .sort(),
    ).toEqual([expect.stringMatching(/^eth0 10\.244\.7\./), expect.stringMatching(/^net1 10\.245\.3\./)]);

    expect(f.run('DEL', f.conf(), { containerID: 'multi', podNs: pod, ifname: 'eth0' }).code).toBe(0);
    expect(addrs().map((l) => l.ifname)).toEqual(['net1']);
    expect(readFileSync(f.stateFile('multi', 'net1', 'cbr1'), 'utf8')).toContain('"name":"cbr1"');
    expect(f.run('DEL', second, { containerID: 'multi', podNs: pod, ifname: 'net1' }).code).toBe(0);
    expect(f.leftovers('multi', { pod })).toEqual([]);
    expect(f.leftovers('multi', { ifname: 'net1', network: 'cbr1', pod })).toEqual([]);
  });

  it('makes dataDir if it is missing, parents included', () => {
    const deep = join(f.root, 'deep', 'er');
    mkdirSync(join(f.root, 'deep'));
    expect(f.run('ADD', f.conf({ dataDir: deep }), { containerID: 'c5' }).code).toBe(0);
    expect(statSync(deep).mode & 0o777).toBe(0o700);
    expect(f.run('DEL', f.conf({ dataDir: deep }), { containerID: 'c5' }).code).toBe(0);
    expect(readdirSync(deep)).toEqual([]);
    expect(f.leftovers('c5')).toEqual([]);
  });
});

// cniVersion negotiation: whatever version the runtime asks for, the delegate is called at the highest
// version both speak (Debian's bridge 1.1.1 stops at 1.0.0), and the result comes back in the runtime's.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CniFixture, fakeDelegate } from './fixture.js';

const f = new CniFixture('versions');
afterAll(() => f.cleanup());

type Ip = { address: string; gateway?: string; version?: string };

describe("flannel CNI version negotiation with Debian's bridge", () => {
  it.each([
    // [asked, called at, result layout]
    ['1.1.0', '1.0.0', 'ips'],
    ['1.0.0', '1.0.0', 'ips'],
    ['0.4.0', '0.4.0', 'ips+version'],
    ['0.3.1', '0.3.1', 'ips+version'],
    ['0.3.0', '0.3.0', 'ips+version'],
    ['0.2.0', '0.2.0', 'ip4'],
    ['0.1.0', '0.1.0', 'ip4'],
    ['', '0.1.0', 'ip4'],
    [undefined, '0.1.0', 'ip4'],
  ])("cniVersion %j: bridge called at %s, result in the runtime's version, CHECK and DEL work", (asked, calledAt, layout) => {
    const conf = f.conf({ cniVersion: asked });
    const add = f.run('ADD', conf, { containerID: 'v' });
    expect(add.stderr).toBe('');
    expect(add.code).toBe(0);
    expect(add.json!.cniVersion).toBe(asked || '0.1.0');
    expect(JSON.parse(readFileSync(f.stateFile('v'), 'utf8')).cniVersion).toBe(calledAt);
    if (layout === 'ip4') {
      expect(add.json).toMatchObject({ ip4: { ip: expect.stringMatching(/^10\.244\.7\./), gateway: '10.244.7.1' } });
    } else {
      const ip = (add.json!.ips as Ip[])[0]!;
      expect(ip.address).toMatch(/^10\.244\.7\./);
      expect(ip.version).toBe(layout === 'ips' ? undefined : '4');
    }
    if (asked && asked >= '0.4.0') expect(f.run('CHECK', { ...conf, prevResult: add.json }, { containerID: 'v' })).toMatchObject({ code: 0, stdout: '' });
    expect(f.run('DEL', conf, { containerID: 'v' })).toMatchObject({ code: 0, stdout: '' });
    expect(f.leftovers('v')).toEqual([]);
  });

  it('CHECK is refused below 0.4.0, as the spec says', () => {
    expect(f.run('CHECK', f.conf({ cniVersion: '0.3.1' }), { containerID: 'v' }).json).toMatchObject({ code: 1, msg: 'config version does not allow CHECK' });
  });
});

describe('flannel CNI version negotiation with other delegates', () => {
  it("converts an old delegate's 0.2.0 result to the 1.1.0 the runtime asked for", () => {
    const legacy = { cniVersion: '0.2.0', ip4: { ip: '10.244.7.9/24', gateway: '10.244.7.1', routes: [{ dst: '10.244.0.0/16' }] }, dns: {} };
    fakeDelegate(f, 'old-timer', `echo '${JSON.stringify(legacy)}'`, ['0.1.0', '0.2.0']);
    const add = f.run('ADD', f.conf({ cniVersion: '1.1.0', delegate: { type: 'old-timer' } }), { containerID: 'old' });
    expect(add.code).toBe(0);
    expect(add.json).toEqual({ cniVersion: '1.1.0', ips: [{ address: '10.244.7.9/24', gateway: '10.244.7.1' }], routes: [{ dst: '10.244.0.0/16' }], dns: {} });
    expect(JSON.parse(readFileSync(join(f.callsDir, 'old-timer.ADD.stdin'), 'utf8')).cniVersion).toBe('0.2.0');
    expect(f.run('DEL', f.conf({ cniVersion: '1.1.0' }), { containerID: 'old' }).code).toBe(0);
    expect(f.calls('old-timer')).toEqual(['VERSION old eth0', 'ADD old eth0', 'DEL old eth0']);
  });

  it('calls a delegate that speaks 1.1.0 at 1.1.0', () => {
    const result = { cniVersion: '1.1.0', ips: [{ address: '10.244.7.8/24' }] };
    fakeDelegate(f, 'modern', `echo '${JSON.stringify(result)}'`, ['1.0.0', '1.1.0']);
    const add = f.run('ADD', f.conf({ cniVersion: '1.1.0', delegate: { type: 'modern' } }), { containerID: 'modern' });
    expect(add.json).toEqual(result);
    expect(JSON.parse(readFileSync(join(f.callsDir, 'modern.ADD.stdin'), 'utf8')).cniVersion).toBe('1.1.0');
    expect(f.run('DEL', f.conf({ cniVersion: '1.1.0' }), { containerID: 'modern' }).code).toBe(0);
    expect(f.leftovers('modern')).toEqual([]);
  });

  it('calls a delegate that speaks 1.0.0 at the 0.4.0 the runtime asked for', () => {
    fakeDelegate(f, 'echoer', `echo '{"cniVersion":"0.4.0","ips":[{"version":"4","address":"10.244.7.7/24"}]}'`, ['0.4.0', '1.0.0']);
    const add = f.run('ADD', f.conf({ cniVersion: '0.4.0', delegate: { type: 'echoer' } }), { containerID: 'echo' });
    expect(add.json).toEqual({ cniVersion: '0.4.0', ips: [{ version: '4', address: '10.244.7.7/24' }] });
    expect(JSON.parse(readFileSync(join(f.callsDir, 'echoer.ADD.stdin'), 'utf8')).cniVersion).toBe('0.4.0');
    expect(f.run('DEL', f.conf({ cniVersion: '0.4.0' }), { containerID: 'echo' }).code).toBe(0);
  });

  it('asks a delegate for VERSION once per file: again only after the file changed', () => {
    const result = { cniVersion: '1.0.0', ips: [{ address: '10.244.7.6/24' }] };
    fakeDelegate(f, 'cached', `echo '${JSON.stringify(result)}'`, ['1.0.0']);
    const conf = f.conf({ delegate: { type: 'cached' } });
    for (const id of ['k1', 'k2']) expect(f.run('ADD', conf, { containerID: id }).code).toBe(0);
    fakeDelegate(f, 'cached', `echo '${JSON.stringify({ ...result, cniVersion: '0.4.0' })}'`, ['0.4.0']);
    const add = f.run('ADD', conf, { containerID: 'k3' });
    expect(add.json).toMatchObject({ cniVersion: '1.0.0', ips: [{ address: '10.244.7.6/24' }] });
    expect(JSON.parse(readFileSync(join(f.callsDir, 'cached.ADD.stdin'), 'utf8')).cniVersion).toBe('0.4.0');
    expect(f.calls('cached').filter((c) => c.startsWith('VERSION'))).toEqual(['VERSION k1 eth0', 'VERSION k3 eth0']);
    for (const id of ['k1', 'k2', 'k3']) expect(f.run('DEL', conf, { containerID: id }).code).toBe(0);
  });
});

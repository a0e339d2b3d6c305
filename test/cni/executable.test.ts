// The plugin is one executable: it must run on a host where `node` cannot be found, with nothing from
// the caller's environment but the CNI variables, as a container runtime starts it.
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FLANNEL_CNI_DIR, PLUGIN_PATH } from '../harness/cni.js';
import { CniFixture } from './fixture.js';

const BIN = join(FLANNEL_CNI_DIR, 'flannel');
const f = new CniFixture('exe');
afterAll(() => f.cleanup());

describe('the flannel CNI executable', () => {
  it('is an ELF executable, not a script', () => {
    expect(readFileSync(BIN).subarray(0, 4)).toEqual(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
    expect(statSync(BIN).mode & 0o111).toBe(0o111);
  });

  it('answers VERSION with an empty environment', () => {
    const r = spawnSync('/usr/bin/env', ['-i', 'CNI_COMMAND=VERSION', BIN], { encoding: 'utf8' });
    expect(r).toMatchObject({ status: 0, stderr: '' });
    expect(JSON.parse(r.stdout)).toMatchObject({ cniVersion: '1.1.0' });
  });

  it('does ADD and DEL with a PATH on which node cannot be found', () => {
    expect(spawnSync('node', ['-e', '0'], { env: { PATH: PLUGIN_PATH } }).error).toMatchObject({ code: 'ENOENT' });
    const add = f.run('ADD', f.conf(), { containerID: 'exe' });
    expect(add).toMatchObject({ code: 0, stderr: '' });
    expect(f.run('DEL', f.conf(), { containerID: 'exe' })).toMatchObject({ code: 0, stdout: '', stderr: '' });
    expect(f.leftovers('exe')).toEqual([]);
  });
});

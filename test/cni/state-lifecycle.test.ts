// DEL against every kind of saved state: it must answer 0 whenever retrying could not help (nothing saved,
// unreadable or unreplayable state, a delegate that is gone or calls the config invalid), release what a
// real attachment holds (also for state in Go's old layout or saved at a version the delegate does not
// speak), never run or follow what the state points at, and keep the state when a retry could succeed.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CNI_PATH, FLANNEL_CNI_DIR, PLUGIN_PATH } from '../harness/cni.js';
import { CniFixture } from './fixture.js';

const f = new CniFixture('state');
const PWNED = join(f.root, 'pwned');
const savedConf = (over: Record<string, unknown>) =>
  JSON.stringify({
    cniVersion: '1.0.0',
    name: 'cbr0',
    type: 'bridge',
    ipam: { type: 'host-local', dataDir: f.hostLocalDir, ranges: [[{ subnet: '10.244.7.0/24' }]] },
    ...over,
  });

beforeAll(() => {
  mkdirSync(f.dataDir, { recursive: true, mode: 0o700 });
  mkdirSync(join(f.root, 'evil'));
  writeFileSync(join(f.root, 'evil', 'pwn.sh'), `#!/bin/sh\n/usr/bin/touch ${PWNED}\n`);
  chmodSync(join(f.root, 'evil', 'pwn.sh'), 0o755);
  plugin('refuses-config', `echo '{"cniVersion":"1.0.0","code":7,"msg":"invalid config"}'; exit 1`);
  // Fails its first DEL with "try again later", succeeds afterwards.
  plugin(
    'flaky',
    `[ -e ${f.callsDir}/flaky-failed ] && exit 0\n/usr/bin/touch ${f.callsDir}/flaky-failed\necho '{"cniVersion":"1.0.0","code":11,"msg":"busy"}'; exit 1`,
  );
});

/** A fake delegate that speaks 1.0.0 and runs `body` for every other command, DEL included. */
function plugin(name: string, body: string): void {
  const version = `[ "$CNI_COMMAND" = VERSION ] && { echo '{"cniVersion":"1.0.0","supportedVersions":["1.0.0"]}'; exit 0; }`;
  writeFileSync(join(f.fakeBinDir, name), `#!/bin/sh\n${version}\n${body}\n`);
  chmodSync(join(f.fakeBinDir, name), 0o755);
}
afterAll(() => f.cleanup());

const del = (id = 'gone') => f.run('DEL', f.conf(), { containerID: id });

describe('flannel CNI DEL with saved state it cannot replay', () => {
  it.each([
    ['no saved state at all', undefined],
    ['an empty file', ''],
    ['truncated JSON', '{"cniVersion":"1.0.0","na'],
    ['null', 'null'],
    ['[null]', '[null]'],
    ['a number', '5'],
    ['no type', savedConf({ type: undefined })],
    ['a type that climbs out of CNI_PATH', savedConf({ type: '../evil/pwn.sh' })],
    ['an absolute type', savedConf({ type: join(f.root, 'evil', 'pwn.sh') })],
    ['a delegate no longer installed', savedConf({ type: 'uninstalled' })],
    ['a delegate that calls it invalid', savedConf({ type: 'refuses-config' })],
  ])('%s: DEL answers 0, runs nothing and removes it', (_what, text) => {
    if (text !== undefined) writeFileSync(f.stateFile('gone'), text, { mode: 0o600 });
    const before = f.writtenOutside();
    expect(del()).toMatchObject({ code: 0, stdout: '' });
    expect(existsSync(f.stateFile('gone'))).toBe(false);
    expect(existsSync(PWNED)).toBe(false);
    expect(f.writtenOutside()).toEqual(before);
  });

  it('a symlink at the state path is removed, not followed', () => {
    const victim = join(f.root, 'victim.json');
    writeFileSync(victim, savedConf({ type: '../evil/pwn.sh' }));
    symlinkSync(victim, f.stateFile('gone'));
    const r = del();
    expect(r).toMatchObject({ code: 0, stdout: '' });
    expect(r.stderr).toContain('symlink');
    expect(existsSync(f.stateFile('gone'))).toBe(false);
    expect(readFileSync(victim, 'utf8')).toContain('pwn.sh');
    expect(existsSync(PWNED)).toBe(false);
  });

  it('a directory at the state path is left alone, and DEL still answers 0', () => {
    mkdirSync(f.stateFile('dir'));
    expect(del('dir')).toMatchObject({ code: 0, stdout: '' });
    expect(existsSync(f.stateFile('dir'))).toBe(true);
  });

  it('keeps the state when the delegate asks to try again, and the retry succeeds', () => {
    writeFileSync(f.stateFile('gone'), savedConf({ type: 'flaky' }));
    expect(del().json).toMatchObject({ code: 11, msg: 'busy' });
    expect(existsSync(f.stateFile('gone'))).toBe(true);
    expect(del()).toMatchObject({ code: 0, stdout: '' });
    expect(existsSync(f.stateFile('gone'))).toBe(false);
  });
});

describe('flannel CNI DEL of real attachments', () => {
  it('releases an attachment whose state was saved at 1.1.0 (what the old plugin wrote), renegotiating with bridge', () => {
    expect(f.run('ADD', f.conf(), { containerID: 'old110' }).code).toBe(0);
    const saved = JSON.parse(readFileSync(f.stateFile('old110'), 'utf8')) as Record<string, unknown>;
    writeFileSync(f.stateFile('old110'), JSON.stringify({ ...saved, cniVersion: '1.1.0' }));
    expect(del('old110')).toMatchObject({ code: 0, stdout: '' });
    expect(f.leftovers('old110')).toEqual([]);
  });

  it("releases an attachment saved in Go's layout, <dataDir>/<containerID>", () => {
    const add = f.run('ADD', f.conf(), { containerID: 'golayout' });
    expect(add.code).toBe(0);
    renameSync(f.stateFile('golayout'), join(f.dataDir, 'golayout'));
    expect(f.run('CHECK', f.conf({ prevResult: add.json }), { containerID: 'golayout' })).toMatchObject({ code: 0, stdout: '' });
    expect(del('golayout')).toMatchObject({ code: 0, stdout: '' });
    expect(f.leftovers('golayout')).toEqual([]);
  });

  it('leaves a Go-layout file of another network alone', () => {
    writeFileSync(join(f.dataDir, 'theirs'), savedConf({ name: 'other-net', type: '../evil/pwn.sh' }));
    expect(del('theirs')).toMatchObject({ code: 0, stdout: '' });
    expect(existsSync(join(f.dataDir, 'theirs'))).toBe(true);
    expect(existsSync(PWNED)).toBe(false);
  });

  it("answers 0 and logs it when the state file cannot be removed after the delegate's DEL", () => {
    expect(f.run('ADD', f.conf(), { containerID: 'stuck' }).code).toBe(0);
    // dataDir read-only in a mount namespace of this call's own, so the host's mounts never change.
    const env = { PATH: PLUGIN_PATH, CNI_COMMAND: 'DEL', CNI_PATH, CNI_CONTAINERID: 'stuck', CNI_IFNAME: 'eth0', CNI_NETNS: `/var/run/netns/${f.pod}` };
    const script = '/usr/bin/mount --bind "$1" "$1" && /usr/bin/mount -o remount,bind,ro "$1" && exec ip netns exec "$2" "$3"';
    const r = spawnSync(
      '/usr/bin/unshare',
      ['--mount', '--propagation', 'private', '/bin/sh', '-c', script, 'sh', f.dataDir, f.node, join(FLANNEL_CNI_DIR, 'flannel')],
      {
        input: JSON.stringify(f.conf()),
        env,
        encoding: 'utf8',
      },
    );
    expect(r).toMatchObject({ status: 0, stdout: '' });
    expect(r.stderr).toMatch(/cannot remove the saved config .*stuck/);
    expect(f.reservations('stuck')).toEqual([]);
    // The stale file is harmless: a later DEL replays it, bridge and host-local find nothing, and it goes.
    expect(del('stuck')).toMatchObject({ code: 0, stdout: '' });
    expect(f.leftovers('stuck')).toEqual([]);
  });
});

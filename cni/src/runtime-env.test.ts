import { parseRuntimeEnv } from './runtime-env.js';

const env = { CNI_CONTAINERID: 'abc', CNI_NETNS: '/var/run/netns/p', CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin::relative:/usr/lib/cni' };

describe('parseRuntimeEnv', () => {
  it("keeps CNI_PATH's absolute directories only", () => {
    expect(parseRuntimeEnv('ADD', env).pluginDirs).toEqual(['/opt/cni/bin', '/usr/lib/cni']);
  });

  it('lets DEL go without CNI_NETNS, as the spec does', () => {
    expect(parseRuntimeEnv('DEL', { ...env, CNI_NETNS: '' })).toMatchObject({ containerID: 'abc', ifname: 'eth0', netns: '' });
  });

  it.each([
    ['CNI_CONTAINERID', '../x'],
    ['CNI_CONTAINERID', ''],
    ['CNI_IFNAME', 'a\u0085b'],
    ['CNI_IFNAME', 'x'.repeat(16)],
    ['CNI_PATH', 'relative'],
  ])('answers code 4 for %s=%j', (key, value) => {
    expect(() => parseRuntimeEnv('ADD', { ...env, [key]: value })).toThrow(expect.objectContaining({ code: 4 }));
  });
});

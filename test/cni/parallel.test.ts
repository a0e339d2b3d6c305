// A busy node: 30 pods' ADDs at once, then their 30 DELs at once, through the plugin into one bridge and
// one host-local range. Every pod must get its own address, and nothing may be left afterwards.
import { readdirSync } from 'node:fs';
import { cniExecAsync } from '../harness/cni.js';
import { createNetns } from '../harness/netns.js';
import { CniFixture } from './fixture.js';

const N = 30;
const f = new CniFixture('par');
/** Attachments' state files; dot files (the delegate VERSION cache) are not state. */
const stateFiles = () => readdirSync(f.dataDir).filter((n) => !n.startsWith('.'));
afterAll(() => f.cleanup());

describe('flannel CNI under concurrency', () => {
  it(`${N} ADDs at once get ${N} distinct addresses, and ${N} DELs at once leave nothing`, async () => {
    const pods = Array.from({ length: N }, (_, i) => createNetns(`par${i}`));
    const call = (command: string, i: number) =>
      cniExecAsync(f.node, 'flannel', f.conf(), { command, containerID: `par${i}`, podNs: pods[i]!, env: { CNI_PATH: f.cniPath } });

    const adds = await Promise.all(pods.map((_, i) => call('ADD', i)));
    expect(adds.filter((r) => r.code !== 0)).toEqual([]);
    const addresses = adds.map((r) => (r.json!.ips as { address: string }[])[0]!.address);
    expect(new Set(addresses).size).toBe(N);
    expect(stateFiles()).toHaveLength(N);

    const dels = await Promise.all(pods.map((_, i) => call('DEL', i)));
    expect(dels.filter((r) => r.code !== 0 || r.stdout !== '')).toEqual([]);
    expect(stateFiles()).toEqual([]);
    expect(readdirSync(f.dataDir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    for (const [i, pod] of pods.entries()) expect(f.leftovers(`par${i}`, { pod, othersUp: true })).toEqual([]);
    expect(f.nodeVeths()).toEqual([]);
  }, 120_000);
});

import { BACKEND_CONTRACT_VERSION, type BackendDescriptor } from '../contracts/backend-plugin.js';
import type { Lease } from '../contracts/lease.js';
import { IP } from '../ip/ip.js';
import { IPNet } from '../ip/ipnet.js';
import { backendConformance } from './conformance.js';

const peer = (n: number): Lease => ({ subnet: IPNet.parse(`10.244.${n}.0/24`), attrs: { publicIP: IP.parse(`192.0.2.${n}`), backendType: 'lazy' } });

/** A backend that takes a lease and then programs nothing: the suite must catch it. */
const lazy: BackendDescriptor = {
  name: 'lazy',
  contractVersion: BACKEND_CONTRACT_VERSION,
  create: (ctx) => ({
    async registerNetwork(_config, signal) {
      const lease = await ctx.subnetManager.acquireLease({ publicIP: ctx.extIface.extAddr!, backendType: 'lazy' }, signal);
      return { lease, mtu: 1500, run: (s) => new Promise<void>((r) => s.addEventListener('abort', () => r(), { once: true })) };
    },
  }),
};

describe('backendConformance', () => {
  const cases = Object.fromEntries(backendConformance(lazy, { peer }).map((c) => [c.name, c]));

  it('fails a backend that programs nothing, naming what is missing', async () => {
    await expect(cases['programs a peer, and removes exactly what it programmed when the peer leaves']!.run()).rejects.toThrow(
      'a peer lease put something into the kernel',
    );
  });

  it('passes what such a backend does do: a lease of its own type, and a clean stop', async () => {
    await cases['registers a network with a lease of its own type inside the network']!.run();
    await cases['stops when aborted, leaving nothing waiting']!.run();
  });
});

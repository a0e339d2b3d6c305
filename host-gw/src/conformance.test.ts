import { IP, IPNet, type Lease } from '@flannel-ts/core';
import { backendConformance } from '@flannel-ts/core/testing';
import { backend } from './index.js';

// A peer on eth0's segment (the test kernel's eth0 holds 192.0.2.10/24).
const peer = (n: number): Lease => ({ subnet: IPNet.parse(`10.244.${n}.0/24`), attrs: { publicIP: IP.parse(`192.0.2.${n}`), backendType: 'host-gw' } });

describe('host-gw passes the backend conformance suite', () => {
  it.each(backendConformance(backend, { peer }).map((c) => [c.name, c]))('%s', async (_name, c) => {
    await c.run();
  });
});

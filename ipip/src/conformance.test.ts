import { IP, IPNet, type Lease } from '@flannel-ts/core';
import { backendConformance } from '@flannel-ts/core/testing';
import { backend } from './index.js';

const peer = (n: number): Lease => ({ subnet: IPNet.parse(`10.244.${n}.0/24`), attrs: { publicIP: IP.parse(`198.51.100.${n}`), backendType: 'ipip' } });

describe('ipip passes the backend conformance suite', () => {
  it.each(backendConformance(backend, { peer }).map((c) => [c.name, c]))('%s', async (_name, c) => {
    await c.run();
  });
});

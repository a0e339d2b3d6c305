import { IP, IPNet, type Lease } from '@flannel-ts/core';
import { backendConformance } from '@flannel-ts/core/testing';
import { backend } from './index.js';

const peer = (n: number): Lease => ({
  subnet: IPNet.parse(`10.244.${n}.0/24`),
  attrs: { publicIP: IP.parse(`192.0.2.${n}`), backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: `0a:00:00:00:00:${n.toString(16).padStart(2, '0')}` } },
});

describe('vxlan passes the backend conformance suite', () => {
  it.each(backendConformance(backend, { peer }).map((c) => [c.name, c]))('%s', async (_name, c) => {
    await c.run();
  });
});

import { IP, IPNet, type Lease } from '@flannel-ts/core';
import { backendConformance } from '@flannel-ts/core/testing';
import { FakeCharon } from './fake-charon.test-util.js';
import { ipsecBackend } from './index.js';

const peer = (n: number): Lease => ({ subnet: IPNet.parse(`10.244.${n}.0/24`), attrs: { publicIP: IP.parse(`192.0.2.${n}`), backendType: 'ipsec' } });
const netConf = JSON.stringify({ Network: '10.244.0.0/16', Backend: { Type: 'ipsec', PSK: '0123456789abcdef'.repeat(6) } });

describe('ipsec passes the backend conformance suite (with a fake charon)', () => {
  const charon = new FakeCharon();
  it.each(backendConformance(ipsecBackend({ launchCharon: charon.launch }), { peer, netConf }).map((c) => [c.name, c]))('%s', async (_name, c) => {
    await c.run();
  });
});

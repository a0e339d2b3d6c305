import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IP, IPNet, type Lease } from '@flannel-ts/core';
import { WgSecret, wgKeyToBase64 } from '@flannel-ts/core/netlink';
import { backendConformance } from '@flannel-ts/core/testing';
import { publicKeyOf } from './keys.js';
import { backend } from './index.js';

const peer = (n: number): Lease => ({
  subnet: IPNet.parse(`10.244.${n}.0/24`),
  attrs: {
    publicIP: IP.parse(`192.0.2.${n}`),
    backendType: 'wireguard',
    backendData: { PublicKey: wgKeyToBase64(publicKeyOf(new WgSecret(Buffer.alloc(32, n)))), Port: 51820 },
  },
});

describe('wireguard passes the backend conformance suite', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fts-wg-'));
    process.env.WIREGUARD_KEY_FILE = join(dir, 'wgkey');
  });
  afterAll(() => {
    delete process.env.WIREGUARD_KEY_FILE;
    rmSync(dir, { recursive: true, force: true });
  });

  it.each(backendConformance(backend, { peer }).map((c) => [c.name, c]))('%s', async (_name, c) => {
    await c.run();
  });
});

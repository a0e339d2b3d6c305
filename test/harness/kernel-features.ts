// What a backend needs from the kernel, probed in a scratch namespace so that the demo can say what is
// missing instead of failing half-way.
import { createNetns, deleteNetns, sh } from './netns.js';

const PROBES: Record<string, { feature: string; args: string[] }> = {
  ipip: { feature: 'CONFIG_NET_IPIP (ipip tunnels)', args: ['link', 'add', 'probe0', 'type', 'ipip', 'local', '192.0.2.1'] },
  wireguard: { feature: 'CONFIG_WIREGUARD', args: ['link', 'add', 'probe0', 'type', 'wireguard'] },
  // The geneve example plugin: an external device that carries IP packets (innerprotoinherit).
  geneve: { feature: 'CONFIG_GENEVE (geneve devices)', args: ['link', 'add', 'probe0', 'type', 'geneve', 'external', 'innerprotoinherit'] },
  ipsec: {
    feature: 'CONFIG_INET_ESP with AES-GCM (ESP tunnels)',
    args: [
      'xfrm',
      'state',
      'add',
      'src',
      '192.0.2.1',
      'dst',
      '192.0.2.2',
      'proto',
      'esp',
      'spi',
      '0x100',
      'mode',
      'tunnel',
      'aead',
      'rfc4106(gcm(aes))',
      '0x0102030405060708091011121314151617181920',
      '128',
    ],
  },
};

/** The kernel feature `backend` needs and this kernel lacks, or undefined when it has everything. */
export function missingKernelFeature(backend: string): string | undefined {
  const probe = PROBES[backend];
  if (!probe) return undefined;
  const ns = createNetns('probe');
  try {
    sh('ip', ['-n', ns, ...probe.args]);
    return undefined;
  } catch {
    return probe.feature;
  } finally {
    deleteNetns(ns);
  }
}

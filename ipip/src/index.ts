import { backendModule, BACKEND_CONTRACT_VERSION, defineBackend, removeLinks } from '@flannel-ts/core';
import { IpipBackend } from './ipip-backend.js';

export { IpipBackend } from './ipip-backend.js';
export { IPIP_DEVICE } from './device.js';

/** The ipip backend: IP-in-IP over flannel.ipip, IPv4 only. */
export const backend = defineBackend({
  name: 'ipip',
  contractVersion: BACKEND_CONTRACT_VERSION,
  create: (ctx) => new IpipBackend(ctx),
  cleanup: ({ netlink, dryRun }) => removeLinks(netlink, /^flannel\.ipip$/, dryRun),
});

/** Registers this backend with flanneld's backend registry. */
export const containerModule = backendModule(backend);

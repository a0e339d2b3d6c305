import { BACKEND_CONTRACT_VERSION, defineBackend } from '@flannel-ts/core';
import { IpipBackend } from './ipip-backend.js';

export { IpipBackend } from './ipip-backend.js';
export { IPIP_DEVICE } from './device.js';

/** The ipip backend (facts §6.3): IP-in-IP over flannel.ipip, IPv4 only. */
export const backend = defineBackend({
  name: 'ipip',
  contractVersion: BACKEND_CONTRACT_VERSION,
  create: (ctx) => new IpipBackend(ctx),
});

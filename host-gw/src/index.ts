import { backendModule, BACKEND_CONTRACT_VERSION, defineBackend } from '@flannel-ts/core';
import { HostGwBackend } from './host-gw-backend.js';

export { HostGwBackend } from './host-gw-backend.js';

/** The host-gw backend: peer subnets routed via the peers' addresses, no encapsulation. */
export const backend = defineBackend({
  name: 'host-gw',
  contractVersion: BACKEND_CONTRACT_VERSION,
  create: (ctx) => new HostGwBackend(ctx),
});

/** Registers this backend with flanneld's backend registry. */
export const containerModule = backendModule(backend);

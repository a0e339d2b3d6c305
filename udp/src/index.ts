import { backendModule, BACKEND_CONTRACT_VERSION, UserError, type BackendDescriptor } from '@flannel-ts/core';

/** Skeleton: loads through the plugin loader like any backend, and says plainly that it cannot run yet. */
export const backend: BackendDescriptor = {
  name: 'udp',
  contractVersion: BACKEND_CONTRACT_VERSION,
  create() {
    throw new UserError('Backend.Type', '"udp" is not implemented yet in this flannel-ts release', 'see udp/README.md for its status');
  },
};

/** Registers this backend with flanneld's backend registry. */
export const containerModule = backendModule(backend);

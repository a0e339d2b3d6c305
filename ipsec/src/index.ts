import { backendModule, BACKEND_CONTRACT_VERSION, UserError, type BackendDescriptor } from '@flannel-ts/core';

/** Skeleton: loads through the plugin loader like any backend, and says plainly that it cannot run yet. */
export const backend: BackendDescriptor = {
  name: 'ipsec',
  contractVersion: BACKEND_CONTRACT_VERSION,
  create() {
    throw new UserError('Backend.Type', '"ipsec" is not implemented yet in this flannel-ts release', 'see ipsec/README.md for its status');
  },
};

/** Registers this backend with flanneld's backend registry. */
export const containerModule = backendModule(backend);

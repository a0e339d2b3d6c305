import { defineBackend, removeLinks } from '@flannel-ts/core';
import { GeneveBackend } from './geneve-backend.js';

export { parseGeneveConfig, type GeneveConfig } from './config.js';
export { DEVICE } from './device.js';
export { GeneveBackend } from './geneve-backend.js';

/**
 * The descriptor flanneld loads for `Backend.Type: "geneve"`.
 *
 * `contractVersion` is the contract this plugin was built against, written as a literal: flanneld hands
 * a plugin its own copy of @flannel-ts/core, so `BACKEND_CONTRACT_VERSION` imported here would be the
 * running flanneld's version, not ours, and the loader's check could never fail. 1.2 brought geneve
 * devices and routes with tunnel encapsulation, which this plugin needs.
 */
export const backend = defineBackend({
  name: 'geneve',
  contractVersion: '1.2',
  create: (ctx) => new GeneveBackend(ctx),
  cleanup: ({ netlink, dryRun }) => removeLinks(netlink, /^flannel\.geneve$/, dryRun),
});

export default backend;

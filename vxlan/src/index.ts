import { BACKEND_CONTRACT_VERSION, defineBackend } from '@flannel-ts/core';
import { VxlanBackend } from './vxlan-backend.js';

export { parseVxlanConfig, type VxlanConfig } from './config.js';
export { readPeer, type VxlanPeer } from './peer.js';
export { reconcileOps, type KernelState } from './kernel-state.js';
export { deviceName, VxlanBackend } from './vxlan-backend.js';

/** The vxlan backend (facts §6.1): flannel.<VNI>, one neigh + FDB entry + route per peer. */
export const backend = defineBackend({
  name: 'vxlan',
  contractVersion: BACKEND_CONTRACT_VERSION,
  create: (ctx) => new VxlanBackend(ctx),
});

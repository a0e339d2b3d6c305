// jest globalSetup of the integration project: one VM for every nested-kernel suite of the run (vm-batch.mjs).
export { startVmBatch as default } from './vm-batch.mjs';

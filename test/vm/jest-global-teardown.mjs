// jest globalTeardown of the integration project: stops a batch VM that is still running.
export { stopVmBatch as default } from './vm-batch.mjs';

/** Test doubles for flannel-ts and for backend plugins' own tests. */
export { InMemorySubnetManager } from './in-memory-subnet-manager.js';
export { RecordingLogger } from './recording-logger.js';
export { InMemoryLeaseRegistry } from './in-memory-registry.js';

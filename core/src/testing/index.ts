/** Test doubles for flannel-ts and for backend plugins' own tests: no root, no kernel, no store needed. */
export { FakeClock, settle } from './fake-clock.js';
export { FakeNetlink } from './fake-netlink.js';
export { InMemoryLeaseRegistry } from './in-memory-registry.js';
export { InMemorySubnetManager } from './in-memory-subnet-manager.js';
export { LeaseEventDriver } from './lease-event-driver.js';
export { RecordingLogger } from './recording-logger.js';
export { testBackendContext, type TestBackendContext } from './test-backend-context.js';
export type { LeaseRegistry, RegistryChange, RegistryUpdate, StoredSubnet } from '../subnet/registry.js';
/** net-conf text to a validated NetworkConfig, for a backend's tests. */
export { loadNetConfig } from '../config/net-conf.js';
export { backendConformance, type ConformanceCase, type ConformanceOptions } from './conformance.js';

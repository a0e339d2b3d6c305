/** @flannel-ts/core/internal/etcd: the etcd v3 lease store, a separate entry so that only etcd mode loads the client. */
export { EtcdRegistry, LIST_PAGE_SIZE, PROBE_MS } from './etcd-registry.js';
export { etcdClientOptions, type EtcdConfig } from './etcd-options.js';
export { EtcdClient, GrpcError, type EtcdClientOptions, type Watch, type WatchHandlers } from './client.js';
export { prefixEnd, type KeyValue, type ResponseHeader, type WatchResponse } from './messages.js';

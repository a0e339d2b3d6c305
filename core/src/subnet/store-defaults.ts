/** Go flanneld's --etcd-endpoints and --etcd-prefix defaults. */
export const DEFAULT_ETCD_ENDPOINTS = 'http://127.0.0.1:4001,http://127.0.0.1:2379';
export const DEFAULT_ETCD_PREFIX = '/coreos.com/network';

/** The embedded store's lease log (flannel-ts only). */
export const DEFAULT_EMBEDDED_STORE = '/var/lib/flannel/leases.jsonl';

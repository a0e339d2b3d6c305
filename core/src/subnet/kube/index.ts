/** @flannel-ts/core/internal/kube: the Kubernetes lease store, a separate entry so that only kube mode loads its client. */
export { DEFAULT_ANNOTATION_PREFIX, kubeAnnotations, type KubeAnnotations } from './annotations.js';
export { createKubeSubnetManager, kubeApiFromFlags, resolveNodeName, type KubeStoreOptions } from './create.js';
export { HttpKubeApi } from './http-kube-api.js';
export {
  isForbidden,
  isGone,
  isNotFound,
  KubeApiError,
  type KubeApi,
  type KubeList,
  type KubeNode,
  type KubeNodeCondition,
  type ListOptions,
  type NodeWatchEvent,
  type WatchOptions,
} from './kube-api.js';
export { KubeSubnetManager, type KubeSubnetManagerOptions, type StoredPublicIP } from './kube-subnet-manager.js';
export { NodeInformer, type InformerOptions, type InformerUpdate } from './node-informer.js';
export { annotationsToWrite, networkAvailablePatch, nodeToLease, nodeView, podSubnets, type NodeView } from './node-lease.js';

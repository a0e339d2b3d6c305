import { existsSync } from 'node:fs';
import type { Clock } from '../../contracts/clock.js';
import type { Logger } from '../../contracts/logger.js';
import { UserError } from '../../errors/user-error.js';
import { kubeAnnotations } from './annotations.js';
import { HttpKubeApi } from './http-kube-api.js';
import type { KubeApi } from './kube-api.js';
import { KubeSubnetManager } from './kube-subnet-manager.js';

/** The kube store's settings: Go flanneld's --kube-* flags and --set-node-network-unavailable. */
export interface KubeStoreOptions {
  /** --kube-api-url: replaces the kubeconfig's (or the in-cluster) server. */
  apiUrl: string;
  /** --kubeconfig-file; empty means the in-cluster service account. */
  kubeconfigFile: string;
  annotationPrefix: string;
  setNodeNetworkUnavailable: boolean;
  /** NODE_NAME, or POD_NAME and POD_NAMESPACE; also KUBERNETES_SERVICE_HOST/PORT for the in-cluster config. */
  env?: Record<string, string | undefined>;
}

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/**
 * A KubeApi as Go's clientcmd.BuildConfigFromFlags(--kube-api-url, --kubeconfig-file) would configure it:
 * the kubeconfig file when given, else the pod's service account (in-cluster); --kube-api-url replaces the
 * server. With only --kube-api-url and no service account, requests go unauthenticated, as in Go.
 */
export async function kubeApiFromFlags(o: Pick<KubeStoreOptions, 'apiUrl' | 'kubeconfigFile' | 'env'>): Promise<KubeApi> {
  const env = o.env ?? process.env;
  const { KubeConfig } = await import('./client-node.js');
  const kc = new KubeConfig();
  if (o.kubeconfigFile) {
    try {
      kc.loadFromFile(o.kubeconfigFile);
    } catch (err) {
      throw new UserError('-kubeconfig-file', `cannot load ${o.kubeconfigFile}: ${(err as Error).message}`, 'give a readable kubeconfig file');
    }
  } else if (env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT) {
    kc.loadFromCluster();
  } else if (o.apiUrl && existsSync(SERVICE_ACCOUNT_TOKEN)) {
    kc.loadFromCluster();
  } else if (o.apiUrl) {
    kc.loadFromClusterAndUser({ name: 'flannel', server: o.apiUrl, skipTLSVerify: false }, { name: 'anonymous' });
  } else {
    throw new UserError(
      '-kubeconfig-file',
      'no Kubernetes API to talk to: not in a pod (KUBERNETES_SERVICE_HOST is unset), and neither -kubeconfig-file nor -kube-api-url is given',
      'give -kubeconfig-file (and -kube-api-url to reach the API server at another address)',
    );
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new UserError('-kubeconfig-file', `${o.kubeconfigFile} has no current context with a cluster`, 'set current-context');
  if (o.apiUrl) {
    kc.loadFromOptions({
      clusters: kc.clusters.map((c) => (c.name === cluster.name ? { ...c, server: o.apiUrl } : c)),
      users: kc.users,
      contexts: kc.contexts,
      currentContext: kc.currentContext,
    });
  }
  const server = kc.getCurrentCluster()!.server;
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new UserError(o.apiUrl ? '-kube-api-url' : '-kubeconfig-file', `${JSON.stringify(server)} is not a URL`, 'give https://HOST:PORT');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new UserError(o.apiUrl ? '-kube-api-url' : '-kubeconfig-file', `${JSON.stringify(server)} is not an http(s) URL`, 'give https://HOST:PORT');
  }
  return new HttpKubeApi(kc);
}

/** Our Node's name: NODE_NAME, else the node our own pod (POD_NAMESPACE/POD_NAME) runs on, as Go does. */
export async function resolveNodeName(api: KubeApi, env: Record<string, string | undefined>, signal: AbortSignal): Promise<string> {
  if (env.NODE_NAME) return env.NODE_NAME;
  const pod = env.POD_NAME;
  const ns = env.POD_NAMESPACE;
  if (!pod || !ns) {
    throw new UserError(
      'NODE_NAME',
      'env variables POD_NAME and POD_NAMESPACE must be set',
      'set NODE_NAME (spec.nodeName through the downward API), or POD_NAME and POD_NAMESPACE',
    );
  }
  const found = await api.getPod(ns, pod, signal);
  const name = found.spec?.nodeName;
  if (!name) throw new UserError('NODE_NAME', `node name not present in pod ${ns}/${pod}`, 'set NODE_NAME');
  return name;
}

/** The kube store for flanneld: client config, node name, annotations; nothing is written until acquireLease. */
export async function createKubeSubnetManager(o: KubeStoreOptions & { netConfigPath: string }, logger: Logger, clock: Clock): Promise<KubeSubnetManager> {
  const annotations = kubeAnnotations(o.annotationPrefix);
  const env = o.env ?? process.env;
  const api = await kubeApiFromFlags(o);
  try {
    const nodeName = await resolveNodeName(api, env, AbortSignal.timeout(30_000));
    logger.info({ server: api.server, node: nodeName, annotationPrefix: annotations.prefix }, 'using the Kubernetes API');
    return new KubeSubnetManager(api, logger, {
      nodeName,
      netConfigPath: o.netConfigPath,
      annotations,
      setNodeNetworkUnavailable: o.setNodeNetworkUnavailable,
      clock,
    });
  } catch (err) {
    api.close();
    throw err;
  }
}

/**
 * The only import of @kubernetes/client-node: its KubeConfig (kubeconfig files, in-cluster service account,
 * exec and token-file credentials). Loading the package whole takes about a second and 60 MB, most of it the
 * generated API models we do not use; `npm run build` (scripts/bundle-kube-client.mjs) replaces this file's
 * output with an esbuild bundle of what KubeConfig needs, which loads in a fifth of that.
 */
export { KubeConfig } from '@kubernetes/client-node/dist/config.js';

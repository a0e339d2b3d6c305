import { UserError } from '../../errors/user-error.js';

/** Go flannel's default --kube-annotation-prefix. */
export const DEFAULT_ANNOTATION_PREFIX = 'flannel.alpha.coreos.com';

/** The node annotations flannel reads and writes, each `<prefix><suffix>`. */
export interface KubeAnnotations {
  /** The normalised prefix: `flannel.alpha.coreos.com/`, `example.com/net-`. */
  readonly prefix: string;
  readonly subnetKubeManaged: string;
  readonly backendType: string;
  readonly backendData: string;
  readonly backendV6Data: string;
  readonly backendPublicIP: string;
  readonly backendPublicIPv6: string;
  readonly backendPublicIPOverwrite: string;
  readonly backendPublicIPv6Overwrite: string;
  readonly nodePublicIP: string;
  readonly nodePublicIPv6: string;
}

// Go's check, unanchored at the start as Go's regexp.MatchString is: an FQDN-ish part, a slash, an optional "name-".
const PREFIX_FORMAT = /(?:[a-z0-9_-]+\.)+[a-z0-9_-]+\/(?:[a-z0-9_-]+-)?$/;

/**
 * The annotation keys for a --kube-annotation-prefix, normalised and checked as Go flannel does: at most
 * one slash; none means `<prefix>/`; a path part gets a trailing `-`; lowercase FQDN, then `/[0-9a-z-_]*`.
 * `flannel.alpha.coreos.com` gives `flannel.alpha.coreos.com/backend-type`, `example.com/net` gives
 * `example.com/net-backend-type`.
 */
export function kubeAnnotations(prefix: string = DEFAULT_ANNOTATION_PREFIX): KubeAnnotations {
  const slashes = prefix.split('/').length - 1;
  if (slashes > 1) throw new UserError('-kube-annotation-prefix', 'subnet/kube: prefix can contain at most single slash', `fix ${JSON.stringify(prefix)}`);
  let p = slashes === 0 ? `${prefix}/` : prefix;
  if (!p.endsWith('/') && !p.endsWith('-')) p += '-';
  if (!PREFIX_FORMAT.test(p)) {
    throw new UserError(
      '-kube-annotation-prefix',
      `subnet/kube: prefix must be in a format: fqdn/[0-9a-z-_]* (got ${JSON.stringify(prefix)})`,
      'use a lowercase domain name, optionally with a path, e.g. flannel.alpha.coreos.com',
    );
  }
  return {
    prefix: p,
    subnetKubeManaged: `${p}kube-subnet-manager`,
    backendType: `${p}backend-type`,
    backendData: `${p}backend-data`,
    backendV6Data: `${p}backend-v6-data`,
    backendPublicIP: `${p}public-ip`,
    backendPublicIPv6: `${p}public-ipv6`,
    backendPublicIPOverwrite: `${p}public-ip-overwrite`,
    backendPublicIPv6Overwrite: `${p}public-ipv6-overwrite`,
    nodePublicIP: `${p}node-public-ip`,
    nodePublicIPv6: `${p}node-public-ipv6`,
  };
}

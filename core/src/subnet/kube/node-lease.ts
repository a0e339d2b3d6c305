import type { JsonValue, Lease, LeaseAttrs } from '../../contracts/lease.js';
import { IP } from '../../ip/ip.js';
import { IPNet } from '../../ip/ipnet.js';
import type { KubeAnnotations } from './annotations.js';
import type { KubeNode } from './kube-api.js';

/**
 * What we keep of a Node: its name, pod CIDRs and only the annotations under our prefix. A list of 5,000
 * full Node objects is tens of megabytes; this is a few hundred bytes a node.
 */
export interface NodeView {
  name: string;
  resourceVersion: string;
  podCIDRs: string[];
  annotations: Record<string, string>;
}

export function nodeView(node: KubeNode, ann: KubeAnnotations): NodeView {
  const annotations: Record<string, string> = {};
  for (const [k, v] of Object.entries(node.metadata.annotations ?? {})) if (k.startsWith(ann.prefix)) annotations[k] = v;
  const cidrs = node.spec?.podCIDRs?.length ? node.spec.podCIDRs : node.spec?.podCIDR ? [node.spec.podCIDR] : [];
  return { name: node.metadata.name, resourceVersion: node.metadata.resourceVersion ?? '', podCIDRs: cidrs, annotations };
}

export interface Families {
  ipv4: boolean;
  ipv6: boolean;
}

/** The node's pod subnets: the first IPv4 and the first IPv6 CIDR of spec.podCIDRs (spec.podCIDR when that is empty). */
export function podSubnets(view: Pick<NodeView, 'name' | 'podCIDRs'>): { v4?: IPNet; v6?: IPNet } {
  if (view.podCIDRs.length > 2) throw new Error(`node "${view.name}" pod cidrs should be IPv4/IPv6 only or dualstack`);
  const out: { v4?: IPNet; v6?: IPNet } = {};
  for (const text of view.podCIDRs) {
    const net = IPNet.tryParse(text);
    if (!net) throw new Error(`node "${view.name}" has an invalid pod CIDR ${JSON.stringify(text)}`);
    if (net.family === 4) out.v4 ??= net;
    else out.v6 ??= net;
  }
  return out;
}

/**
 * A peer's lease from its Node, as Go's nodeToLease: only nodes annotated `kube-subnet-manager: "true"`;
 * per enabled family the subnet from the pod CIDRs, the public IP and the backend data from the annotations.
 * Undefined for a node that is not a flannel node; throws (with the reason) for one whose annotations are bad.
 */
export function nodeToLease(view: NodeView, ann: KubeAnnotations, families: Families): Lease | undefined {
  const a = view.annotations;
  if (a[ann.subnetKubeManaged] !== 'true') return undefined;
  const subnets = podSubnets(view);
  const attrs: LeaseAttrs = {};
  const lease: Lease = { attrs };
  if (a[ann.backendType]) attrs.backendType = a[ann.backendType]!;
  if (families.ipv4) {
    if (!subnets.v4) throw new Error(`missing IPv4 address on node "${view.name}" spec.podCIDRs`);
    lease.subnet = subnets.v4;
    attrs.publicIP = parsePublicIP(a[ann.backendPublicIP], 4, ann.backendPublicIP);
    const data = parseBackendData(a[ann.backendData], ann.backendData);
    if (data !== null) attrs.backendData = data;
  }
  if (families.ipv6) {
    if (!subnets.v6) throw new Error(`missing IPv6 address on node "${view.name}" spec.podCIDRs`);
    lease.ipv6Subnet = subnets.v6;
    attrs.publicIPv6 = parsePublicIP(a[ann.backendPublicIPv6], 6, ann.backendPublicIPv6);
    const data = parseBackendData(a[ann.backendV6Data], ann.backendV6Data);
    if (data !== null) attrs.backendV6Data = data;
  }
  return lease;
}

/** Whether two views give a peer the same lease: Go emits an update only when backend type, data or public IP change. */
export function sameLeaseAnnotations(a: NodeView, b: NodeView, ann: KubeAnnotations): boolean {
  const keys = [ann.subnetKubeManaged, ann.backendType, ann.backendData, ann.backendV6Data, ann.backendPublicIP, ann.backendPublicIPv6];
  return keys.every((k) => a.annotations[k] === b.annotations[k]) && a.podCIDRs.join(',') === b.podCIDRs.join(',');
}

function parsePublicIP(text: string | undefined, family: 4 | 6, key: string): IP {
  const ip = text === undefined ? undefined : IP.tryParse(text);
  if (!ip || ip.family !== family) throw new Error(`annotation ${key}=${JSON.stringify(text ?? '')} is not an IPv${family} address`);
  return ip;
}

function parseBackendData(text: string | undefined, key: string): JsonValue {
  if (text === undefined || text === '') return null;
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    throw new Error(`annotation ${key} is not JSON: ${JSON.stringify(text.slice(0, 100))}`);
  }
}

/** Go serialises BackendData with json.Marshal of a RawMessage: nothing is `null`. */
export const backendDataText = (data: JsonValue | undefined): string => JSON.stringify(data ?? null);

/**
 * The annotations Go flannel's AcquireLease writes for our attributes, or undefined when the node already
 * has them. `public-ip` is the `public-ip-overwrite` annotation when that is set. backend-data and
 * public-ip are left alone by a vxlan or wireguard node without IPv4 data (IPv6-only); backend-v6-data and
 * public-ipv6 are written for vxlan with IPv6 data, and for wireguard, host-gw and extension with an IPv6
 * public address.
 */
export function annotationsToWrite(current: Record<string, string>, attrs: LeaseAttrs, ann: KubeAnnotations): Record<string, string> | undefined {
  const type = attrs.backendType ?? '';
  const bd = backendDataText(attrs.backendData);
  const v6bd = backendDataText(attrs.backendV6Data);
  const ip4 = (attrs.publicIP ?? IP.v4(0)).toString();
  const overwrite = current[ann.backendPublicIPOverwrite] ?? '';
  const overwrite6 = current[ann.backendPublicIPv6Overwrite] ?? '';
  const stale4 =
    current[ann.backendData] !== bd ||
    current[ann.backendType] !== type ||
    current[ann.backendPublicIP] !== (overwrite || ip4) ||
    current[ann.subnetKubeManaged] !== 'true';
  const ip6 = attrs.publicIPv6?.toString();
  const stale6 =
    ip6 !== undefined && (current[ann.backendV6Data] !== v6bd || current[ann.backendType] !== type || current[ann.backendPublicIPv6] !== (overwrite6 || ip6));
  if (!stale4 && !stale6) return undefined;

  const out: Record<string, string> = { [ann.backendType]: type };
  if ((type === 'vxlan' || type === 'wireguard') === false || bd !== 'null') {
    out[ann.backendData] = bd;
    out[ann.backendPublicIP] = overwrite || ip4;
  }
  const withV6 =
    (type === 'vxlan' && v6bd !== 'null') ||
    (type === 'wireguard' && v6bd !== 'null' && ip6 !== undefined) ||
    ((type === 'host-gw' || type === 'extension') && ip6 !== undefined);
  if (withV6) {
    out[ann.backendV6Data] = v6bd;
    out[ann.backendPublicIPv6] = overwrite6 || (ip6 ?? '');
  }
  out[ann.subnetKubeManaged] = 'true';
  return out;
}

/** Go's NodeNetworkUnavailable patch: one condition, merged into status.conditions by its type. */
export function networkAvailablePatch(now: Date): object {
  const t = now.toISOString().replace(/\.\d+Z$/, 'Z');
  return {
    status: {
      conditions: [
        {
          type: 'NetworkUnavailable',
          status: 'False',
          reason: 'FlannelIsUp',
          message: 'Flannel is running on this node',
          lastTransitionTime: t,
          lastHeartbeatTime: t,
        },
      ],
    },
  };
}

/** Whether `inner` lies inside `outer` (Go's containsCIDR). */
export const containsCIDR = (outer: IPNet, inner: IPNet): boolean =>
  outer.family === inner.family && outer.prefixLen <= inner.prefixLen && outer.contains(inner.ip);

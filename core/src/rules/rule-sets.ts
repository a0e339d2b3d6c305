import type { IPNet } from '../ip/ipnet.js';

/** One family's cluster network and our node's pod subnet. */
export interface FamilyNets {
  family: 4 | 6;
  network: IPNet;
  podSubnet: IPNet;
}

export const MASQ_COMMENT = 'flanneld masq';
export const FORWARD_COMMENT = 'flanneld forward';
export const KUBE_PROXY_MARK = '0x4000';

const multicast = (family: 4 | 6) => (family === 4 ? '224.0.0.0/4' : 'ff00::/8');

/**
 * Go flannel's masquerade rules, in its order, as iptables rule specs (what `iptables -S` prints after
 * `-A FLANNEL-POSTRTG`). Pod-to-cluster traffic is left alone; traffic leaving the cluster network is
 * masqueraded; traffic kube-proxy marked is left to kube-proxy.
 */
export function iptablesMasqRules(n: FamilyNets, fullyRandom: boolean): string[] {
  const c = `-m comment --comment "${MASQ_COMMENT}"`;
  const rf = fullyRandom ? ' --random-fully' : '';
  return [
    `-m mark --mark ${KUBE_PROXY_MARK}/${KUBE_PROXY_MARK} ${c} -j RETURN`,
    `-s ${n.podSubnet} -d ${n.network} ${c} -j RETURN`,
    `-s ${n.network} -d ${n.podSubnet} ${c} -j RETURN`,
    `! -s ${n.network} -d ${n.podSubnet} ${c} -j RETURN`,
    `-s ${n.network} ! -d ${multicast(n.family)} ${c} -j MASQUERADE${rf}`,
    `! -s ${n.network} -d ${n.network} ${c} -j MASQUERADE${rf}`,
  ];
}

export function iptablesForwardRules(n: Pick<FamilyNets, 'network'>): string[] {
  const c = `-m comment --comment "${FORWARD_COMMENT}"`;
  return [`-s ${n.network} ${c} -j ACCEPT`, `-d ${n.network} ${c} -j ACCEPT`];
}

/**
 * The same rules in nft syntax. Rule 4 is `ip saddr != NET ip daddr POD return`, as iptables' `! -s NET
 * -d POD`: Go flannel's nftables mode writes `saddr != POD` there (a bug), so traffic from other pods of
 * the cluster to ours was not exempted alike in the two modes. The mark stays an exact match, the form
 * Go flannel's e2e suite reads back (`meta mark 0x00004000 return`).
 */
export function nftMasqRules(n: FamilyNets, fullyRandom: boolean): string[] {
  const ip = n.family === 4 ? 'ip' : 'ip6';
  const rf = fullyRandom ? ' fully-random' : '';
  return [
    `meta mark ${KUBE_PROXY_MARK} return`,
    `${ip} saddr ${n.podSubnet} ${ip} daddr ${n.network} return`,
    `${ip} saddr ${n.network} ${ip} daddr ${n.podSubnet} return`,
    `${ip} saddr != ${n.network} ${ip} daddr ${n.podSubnet} return`,
    `${ip} saddr ${n.network} ${ip} daddr != ${multicast(n.family)} masquerade${rf}`,
    `${ip} saddr != ${n.network} ${ip} daddr ${n.network} masquerade${rf}`,
  ];
}

export function nftForwardRules(n: Pick<FamilyNets, 'network' | 'family'>): string[] {
  const ip = n.family === 4 ? 'ip' : 'ip6';
  return [`${ip} saddr ${n.network} accept`, `${ip} daddr ${n.network} accept`];
}

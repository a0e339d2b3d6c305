import type { KernelEntry } from '@flannel-ts/core';
import type { NetlinkRequest } from '@flannel-ts/core/netlink';
import { xfrmPolicyDelRequest, xfrmPolicyUpdateRequest, type XfrmPolicy } from './xfrm.js';

/** Go flannel's reqid for every policy and child SA, so that charon's SAs match flannel's policies. */
export const REQID = 11;

/** Policies depend on nothing else of ours: one rank will do. */
export const XFRM_POLICY_RANK = 0;

/**
 * One XFRM policy as a kernel entry for core's engine: keyed by direction and selector (the kernel holds one
 * policy per selector and direction), its value the template (tunnel endpoints, protocol, mode, reqid). put()
 * is `ip xfrm policy update`, del() `ip xfrm policy delete`, each one message the engine batches.
 */
export class XfrmPolicyEntry implements KernelEntry {
  readonly key: string;
  readonly value: string;
  readonly rank = XFRM_POLICY_RANK;

  constructor(readonly policy: XfrmPolicy) {
    this.key = `xfrmpolicy ${policy.dir} ${policy.src} ${policy.dst}`;
    const tmpls = policy.tmpls.map((t) => `tmpl src ${t.src} dst ${t.dst} proto ${t.proto} mode ${t.mode} reqid ${t.reqid}${t.spi ? ` spi ${t.spi}` : ''}`);
    // A policy someone turned into `action block`, or whose priority they changed, is not ours as we want it.
    this.value = [`${policy.action ?? 'allow'} priority ${policy.priority ?? 0}`, ...tmpls].join('; ');
  }

  put(): NetlinkRequest {
    return xfrmPolicyUpdateRequest(this.policy);
  }

  del(): NetlinkRequest {
    const { src, dst, dir } = this.policy;
    return xfrmPolicyDelRequest({ src, dst, dir });
  }
}

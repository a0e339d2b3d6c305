// The XFRM part of core's netlink library (contract 1.4) as this backend uses it. The Netlink methods are
// optional in the contract, so a flanneld whose netlink has none is refused with a clear error.
import type { Netlink } from '@flannel-ts/core';
import { requests, type NetlinkRequest, type XfrmPolicy, type XfrmPolicySelector } from '@flannel-ts/core/netlink';

export type { XfrmDir, XfrmPolicy, XfrmPolicySelector, XfrmTmpl } from '@flannel-ts/core/netlink';

/** Why this netlink cannot program XFRM policies, or undefined when it can. */
export function xfrmMissing(nl: Netlink): string | undefined {
  const r = requests as Partial<typeof requests>;
  const missing = [
    typeof nl.xfrmPolicyList === 'function' ? undefined : 'xfrmPolicyList',
    typeof r.xfrmPolicyUpdate === 'function' ? undefined : 'requests.xfrmPolicyUpdate',
    typeof r.xfrmPolicyDel === 'function' ? undefined : 'requests.xfrmPolicyDel',
  ].filter((m) => m !== undefined);
  return missing.length > 0 ? `its netlink library has no ${missing.join(', ')}` : undefined;
}

export const xfrmPolicyList = (nl: Netlink, family: 4 | 6): Promise<XfrmPolicy[]> => nl.xfrmPolicyList!(family);
export const xfrmPolicyUpdateRequest = (p: XfrmPolicy): NetlinkRequest => requests.xfrmPolicyUpdate(p);
export const xfrmPolicyDelRequest = (sel: XfrmPolicySelector): NetlinkRequest => requests.xfrmPolicyDel(sel);

// The XFRM part of core's netlink library as this backend uses it. Until core exports these (issue 14's
// netlink work), they are declared here and reached through optional members, so that a core without XFRM
// fails with a clear error instead of at import.
import type { IP, IPNet, Netlink } from '@flannel-ts/core';
import { requests, type NetlinkRequest } from '@flannel-ts/core/netlink';

export type XfrmDir = 'in' | 'out' | 'fwd';

export interface XfrmTmpl {
  src: IP;
  dst: IP;
  proto: 'esp';
  mode: 'tunnel';
  reqid: number;
  spi?: number;
}

export interface XfrmPolicy {
  src: IPNet;
  dst: IPNet;
  dir: XfrmDir;
  priority?: number;
  index?: number;
  tmpls: XfrmTmpl[];
  mark?: { value: number; mask: number };
}

/** What identifies a policy: its selector and direction. */
export type XfrmPolicySelector = Pick<XfrmPolicy, 'src' | 'dst' | 'dir'>;

interface XfrmNetlink {
  xfrmPolicyList?(family?: 4 | 6): Promise<XfrmPolicy[]>;
}
interface XfrmRequests {
  xfrmPolicyUpdate?(p: XfrmPolicy): NetlinkRequest;
  xfrmPolicyDel?(sel: XfrmPolicySelector): NetlinkRequest;
}

const xfrmRequests = requests as unknown as XfrmRequests;

/** Why this netlink cannot program XFRM policies, or undefined when it can. */
export function xfrmMissing(nl: Netlink): string | undefined {
  const missing = [
    typeof (nl as XfrmNetlink).xfrmPolicyList === 'function' ? undefined : 'xfrmPolicyList',
    typeof xfrmRequests.xfrmPolicyUpdate === 'function' ? undefined : 'requests.xfrmPolicyUpdate',
    typeof xfrmRequests.xfrmPolicyDel === 'function' ? undefined : 'requests.xfrmPolicyDel',
  ].filter((m) => m !== undefined);
  return missing.length > 0 ? `its netlink library has no ${missing.join(', ')}` : undefined;
}

export const xfrmPolicyList = (nl: Netlink, family: 4 | 6): Promise<XfrmPolicy[]> => (nl as XfrmNetlink).xfrmPolicyList!(family);
export const xfrmPolicyUpdateRequest = (p: XfrmPolicy): NetlinkRequest => xfrmRequests.xfrmPolicyUpdate!(p);
export const xfrmPolicyDelRequest = (sel: XfrmPolicySelector): NetlinkRequest => xfrmRequests.xfrmPolicyDel!(sel);

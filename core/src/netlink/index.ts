/**
 * @flannel-ts/core/netlink: rtnetlink over libc through ffi-rs. Names mirror iproute2; requests batch.
 */
export { lacksEthtoolFeaturesNetlink, NetlinkHandle } from './handle.js';
export { Netlink, type OpResult } from '../contracts/netlink.js';
export { NetlinkArgumentError, NetlinkError, errnoName } from './errors.js';
export { addrNet, type Addr } from './addr.js';
export { onLinkDevice, setHostAddress } from './host-address.js';
export {
  checkLinkName,
  type GeneveInfo,
  type GeneveSpec,
  type IpipInfo,
  type Link,
  type LinkChange,
  type LinkSpec,
  type VxlanInfo,
  type VxlanSpec,
} from './link.js';
export type { FdbEntry, Neigh } from './neigh.js';
export {
  decodeEthtoolFeatures,
  ethtoolFeaturesGet,
  ethtoolFeaturesSet,
  txChecksumProblem,
  txChecksumWanted,
  TX_CHECKSUM_PREFIX,
  type EthtoolFeature,
  type EthtoolFeatures,
} from './ethtool.js';
export { decodeBitset, type EthtoolBit, type EthtoolBitset } from './ethtool-bitset.js';
export { ioctlGetTxChecksum, ioctlSetTxChecksum } from './ethtool-ioctl.js';
export { decodeGenlFamily, genlGetFamily, type GenlFamily } from './genl.js';
export {
  decodeWgDevice,
  describeWgSet,
  formatEndpoint,
  WG_SET_MESSAGE_BYTES,
  wgKeyFromBase64,
  wgKeyToBase64,
  WgSecret,
  type WgDevice,
  type WgDeviceConfig,
  type WgEndpoint,
  type WgPeer,
  type WgPeerConfig,
} from './wireguard.js';
export {
  checkXfrmPolicy,
  checkXfrmSelector,
  decodeXfrmPolicy,
  decodeXfrmPolicyEvent,
  describeXfrmPolicy,
  describeXfrmSelector,
  xfrmPolicyKey,
  type XfrmDir,
  type XfrmMark,
  type XfrmMode,
  type XfrmPolicy,
  type XfrmPolicyEvent,
  type XfrmPolicySelector,
  type XfrmProto,
  type XfrmTmpl,
} from './xfrm.js';
export type { Nexthop } from './nexthop.js';
export type { IpTunnelEncap, Route, RouteFilter } from './route.js';
export type { NetlinkRequest, NetlinkSocketOptions, RequestWhat } from './socket/netlink-socket.js';
export { BATCH_SIZE } from './socket/netlink-socket.js';
export * as requests from './requests.js';
export * as nlconst from './nl/constants.js';
export { netlinkMonitor, type MonitorOptions, type MonitorTopic, type NetlinkEvent } from './monitor.js';
export { setAcceptRa, setForwarding, sysctlGet, sysctlSet } from './sysctl.js';
export { closeTun, tunOpen, type TunDevice, type TunOptions } from './tun.js';

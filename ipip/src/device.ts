import { UserError, type IP, type Logger, type Netlink } from '@flannel-ts/core';
import { NetlinkError, type Link } from '@flannel-ts/core/netlink';

export const IPIP_DEVICE = 'flannel.ipip';
export const IPIP_OVERHEAD = 20;

/**
 * `flannel.ipip`: an ipip tunnel with our interface address as local end and any remote. A foreign device
 * of that name is an error; an ipip one with other endpoints is recreated. The MTU is lowered to
 * ext MTU − 20 when it is larger (or unset), as Go flannel does.
 */
export async function ensureIpipDevice(nl: Netlink, local: IP, extMtu: number, logger: Logger): Promise<Link> {
  const mtu = extMtu - IPIP_OVERHEAD;
  if (mtu <= 0) throw new UserError('--iface', `the interface MTU ${extMtu} leaves no room for ipip's 20-byte header`, 'use an interface with a larger MTU');
  let link = await nl.linkByName(IPIP_DEVICE);
  if (link && link.kind !== 'ipip') {
    throw new UserError(IPIP_DEVICE, `${IPIP_DEVICE} isn't an ipip mode device, please remove device and try again`, `ip link del ${IPIP_DEVICE}`);
  }
  if (link && (!local.equals(link.ipip?.local) || link.ipip?.remote)) {
    logger.warn(
      { device: IPIP_DEVICE, local: link.ipip?.local?.toString(), remote: link.ipip?.remote?.toString() },
      'ipip device has other endpoints; recreating it',
    );
    await nl.linkDel(link.index);
    link = undefined;
  }
  if (!link) {
    try {
      link = await nl.linkAdd({ kind: 'ipip', name: IPIP_DEVICE, ipip: { local } });
    } catch (err) {
      if (err instanceof NetlinkError && err.code === 'EOPNOTSUPP') {
        throw new UserError(
          'Backend.Type',
          'the ipip backend needs ipip tunnels in the kernel (CONFIG_NET_IPIP, module "ipip"), and this kernel has none',
          'load the module (modprobe ipip), use a kernel built with it, or choose the vxlan backend',
        );
      }
      throw err;
    }
    logger.info({ device: IPIP_DEVICE, local: String(local) }, 'created ipip device');
  }
  if (link.mtu === 0 || link.mtu > mtu) await nl.linkSetMtu(link.index, mtu);
  return (await nl.linkByIndex(link.index))!;
}

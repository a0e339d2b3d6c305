import { UserError, type Logger, type Netlink } from '@flannel-ts/core';
import { NetlinkError, type Link } from '@flannel-ts/core/netlink';

export const DEVICE = 'flannel.geneve';

/** What flannel.geneve must be: external (collect_md), L3 (innerprotoinherit), on our port, this MTU. */
export interface GeneveDeviceSpec {
  port: number;
  mtu: number;
}

/** True, or why an existing flannel.geneve cannot be kept. The MTU is set afterwards, not compared. */
export function isCompatible(link: Link, spec: GeneveDeviceSpec): true | string {
  const g = link.geneve;
  if (link.kind !== 'geneve' || !g) return `it is a ${link.kind ?? 'plain'} device, not geneve`;
  if (!g.external) return 'it is not external (collect_md)';
  if (!g.innerProtoInherit) return 'it carries Ethernet frames (no innerprotoinherit)';
  if ((g.port ?? 6081) !== spec.port) return `its port is ${g.port ?? 6081}, not ${spec.port}`;
  return true;
}

/**
 * Creates flannel.geneve, or keeps a compatible one, or replaces a geneve device with other settings.
 * A device of another kind under our name is someone else's: we refuse to start rather than delete it.
 * Leaves it down.
 */
export async function ensureGeneveDevice(nl: Netlink, spec: GeneveDeviceSpec, logger: Logger): Promise<Link> {
  let link = await nl.linkByName(DEVICE);
  if (link && link.kind !== 'geneve') {
    throw new UserError(DEVICE, `${DEVICE} exists and is a ${link.kind ?? 'plain'} device, not geneve`, `remove it (ip link del ${DEVICE}) and start again`);
  }
  const verdict = link ? isCompatible(link, spec) : undefined;
  if (link && verdict !== true) {
    logger.warn({ device: DEVICE, reason: verdict }, 'geneve device has other settings; recreating it');
    await nl.linkDel(link.index);
    link = undefined;
  }
  if (!link) {
    link = await create(nl, spec);
    logger.info({ device: DEVICE, port: spec.port, mtu: spec.mtu }, 'created geneve device');
  }
  if (link.mtu !== spec.mtu) await nl.linkSetMtu(link.index, spec.mtu);
  return (await nl.linkByIndex(link.index))!;
}

async function create(nl: Netlink, spec: GeneveDeviceSpec): Promise<Link> {
  let link: Link;
  try {
    link = await nl.linkAdd({ kind: 'geneve', name: DEVICE, mtu: spec.mtu, geneve: { external: true, innerProtoInherit: true, port: spec.port } });
  } catch (err) {
    if (err instanceof NetlinkError && err.code === 'EOPNOTSUPP') {
      throw new UserError(
        'Backend.Type',
        'the geneve backend needs geneve devices in the kernel (CONFIG_GENEVE, module "geneve"), and this kernel has none',
        'load the module (modprobe geneve), use a kernel built with it, or choose the vxlan backend',
      );
    }
    throw err;
  }
  // A kernel before innerprotoinherit ignores the flag and makes an Ethernet device, which cannot work
  // without neighbour entries: say so rather than run a data path that drops every packet.
  if (!link.geneve?.innerProtoInherit) {
    await nl.linkDel(link.index);
    throw new UserError(
      'Backend.Type',
      'the geneve backend needs geneve devices that carry IP packets (innerprotoinherit), and this kernel makes Ethernet ones',
      'use Linux 5.15 or later, or choose the vxlan backend',
    );
  }
  return link;
}

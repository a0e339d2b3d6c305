import type { IP, Logger, MAC } from '@flannel-ts/core';
import { setAcceptRa, type Link, type NetlinkHandle, type VxlanInfo } from '@flannel-ts/core/netlink';

/** What flannel.<VNI> must be. */
export interface VxlanDeviceSpec {
  name: string;
  vni: number;
  vtepIndex: number;
  local?: IP;
  port: number;
  learning: boolean;
  gbp: boolean;
  mtu: number;
  mac: MAC;
}

/**
 * Go flannel's compatibility test for reusing a device: same kind and VNI, and the same underlay, local
 * address, port and GBP where both sides say. MTU, learning and MAC are set afterwards, not compared.
 */
export function isCompatible(link: Link, spec: VxlanDeviceSpec): boolean {
  const v: VxlanInfo | undefined = link.vxlan;
  if (link.kind !== 'vxlan' || !v || v.vni !== spec.vni) return false;
  if (v.vtepIndex && spec.vtepIndex && v.vtepIndex !== spec.vtepIndex) return false;
  if (v.local && spec.local && !v.local.equals(spec.local)) return false;
  if (v.port && spec.port && v.port !== spec.port) return false;
  if (v.l2miss || v.gbp !== spec.gbp) return false;
  return true;
}

/** Creates the device, or reuses a compatible one, or replaces an incompatible one. Leaves it down. */
export async function ensureVxlanDevice(nl: NetlinkHandle, spec: VxlanDeviceSpec, logger: Logger): Promise<Link> {
  const existing = await nl.linkByName(spec.name);
  if (existing && !isCompatible(existing, spec)) {
    logger.warn({ device: spec.name, kind: existing.kind, vni: existing.vxlan?.vni }, 'device already exists with incompatible configuration; recreating it');
    await nl.linkDel(existing.index);
  }
  let link = existing && isCompatible(existing, spec) ? existing : undefined;
  if (!link) {
    link = await nl.linkAdd({
      kind: 'vxlan',
      name: spec.name,
      mtu: spec.mtu,
      mac: spec.mac,
      vxlan: {
        vni: spec.vni,
        vtepIndex: spec.vtepIndex,
        ...(spec.local ? { local: spec.local } : {}),
        ...(spec.port ? { port: spec.port } : {}),
        learning: spec.learning,
        gbp: spec.gbp,
      },
    });
    logger.info({ device: spec.name, vni: spec.vni, mac: String(spec.mac), mtu: spec.mtu }, 'created vxlan device');
  }
  if (link.mtu !== spec.mtu) await nl.linkSetMtu(link.index, spec.mtu);
  if (!spec.mac.equals(link.mac)) await nl.linkSetHardwareAddr(link.index, spec.mac);
  if (link.vxlan && link.vxlan.learning !== spec.learning) {
    logger.info({ device: spec.name, learning: spec.learning }, 'learning differs on the reused device; recreate it to change it');
  }
  try {
    setAcceptRa(spec.name, 0);
  } catch (err) {
    logger.debug({ device: spec.name, err: (err as Error).message }, 'cannot turn off accept_ra (no IPv6?)');
  }
  return (await nl.linkByIndex(link.index))!;
}

import type { IP, Logger, MAC, Netlink } from '@flannel-ts/core';
import { setAcceptRa, type Link, type VxlanInfo } from '@flannel-ts/core/netlink';

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
 * Go flannel's test for reusing a device: same kind and VNI, and the same underlay, local address, port
 * and GBP where both sides say. MTU, learning and MAC are set afterwards, not compared. Returns true, or
 * why the device cannot be reused.
 */
export function isCompatible(link: Link, spec: VxlanDeviceSpec): true | string {
  const v: VxlanInfo | undefined = link.vxlan;
  if (link.kind !== 'vxlan' || !v) return `it is a ${link.kind ?? 'plain'} device, not vxlan`;
  if (v.vni !== spec.vni) return `its VNI is ${v.vni}, not ${spec.vni}`;
  if (v.vtepIndex && spec.vtepIndex && v.vtepIndex !== spec.vtepIndex) return `it sits on device #${v.vtepIndex}, not #${spec.vtepIndex}`;
  if (v.local && spec.local && !v.local.equals(spec.local)) return `its local address is ${v.local}, not ${spec.local}`;
  if (v.port && spec.port && v.port !== spec.port) return `its port is ${v.port}, not ${spec.port}`;
  if (v.l2miss) return 'it has l2miss set';
  if (v.gbp !== spec.gbp) return `its GBP is ${v.gbp ? 'on' : 'off'}`;
  return true;
}

/** Creates the device, or reuses a compatible one, or replaces an incompatible one. Leaves it down. */
export async function ensureVxlanDevice(nl: Netlink, spec: VxlanDeviceSpec, logger: Logger): Promise<Link> {
  const existing = await nl.linkByName(spec.name);
  const verdict = existing ? isCompatible(existing, spec) : undefined;
  if (existing && verdict !== true) {
    logger.warn({ device: spec.name, reason: verdict }, 'device already exists with incompatible configuration; recreating it');
    await nl.linkDel(existing.index);
  }
  let link = verdict === true ? existing : undefined;
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

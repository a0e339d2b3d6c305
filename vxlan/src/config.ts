import { backendFieldParsers, foldKeys, UserError, type Logger } from '@flannel-ts/core';
import { CHECKSUM_OFFLOAD_MODES, type ChecksumOffloadMode } from './checksum.js';

/** The kernel's own vxlan port when `Port` is 0 (Linux predates IANA's 4789). */
export const KERNEL_DEFAULT_VXLAN_PORT = 8472;
/** Outer Ethernet + IPv4 + UDP + vxlan headers, as Go flannel subtracts them. */
export const VXLAN_OVERHEAD = 50;
/** Over an IPv6 underlay the outer IP header is 20 bytes longer; the kernel refuses a larger MTU. */
export const VXLAN_V6_OVERHEAD = 70;

/** net-conf `Backend` keys of the vxlan backend (Go flannel's names and defaults). */
export interface VxlanConfig {
  vni: number;
  /** 0: leave it to the kernel (8472). */
  port: number;
  /** Absent: the external interface's MTU. */
  mtu?: number;
  gbp: boolean;
  learning: boolean;
  directRouting: boolean;
  /** TX checksum offload of the vxlan device: "auto" (off on affected kernels), "on" or "off". flannel-ts only. */
  checksumOffload: ChecksumOffloadMode;
}

const { uint, bool } = backendFieldParsers('VXLAN');

const FIELDS = ['Type', 'VNI', 'Port', 'MTU', 'GBP', 'Learning', 'DirectRouting', 'ChecksumOffload'] as const;

export function parseVxlanConfig(backend: Record<string, unknown>, logger?: Logger): VxlanConfig {
  const f = foldKeys(backend, FIELDS);
  for (const key of f.unknown ?? []) logger?.warn({ field: `Backend.${key}` }, 'unknown vxlan backend field, ignored');
  const cfg: VxlanConfig = {
    vni: uint('VNI', f.VNI, 1, 1, 0xffffff),
    port: uint('Port', f.Port, 0, 0, 65535),
    gbp: bool('GBP', f.GBP),
    learning: bool('Learning', f.Learning),
    directRouting: bool('DirectRouting', f.DirectRouting),
    checksumOffload: checksumMode(f.ChecksumOffload),
  };
  if (f.MTU !== undefined && f.MTU !== 0) cfg.mtu = uint('MTU', f.MTU, 0, VXLAN_V6_OVERHEAD + 1280, 65535);
  return cfg;
}

function checksumMode(value: unknown): ChecksumOffloadMode {
  if (value === undefined || value === null) return 'auto';
  if (typeof value !== 'string' || !(CHECKSUM_OFFLOAD_MODES as readonly string[]).includes(value.toLowerCase())) {
    throw new UserError(
      'Backend.ChecksumOffload',
      `error decoding VXLAN backend config: ${JSON.stringify(value)} is not one of ${CHECKSUM_OFFLOAD_MODES.map((m) => `"${m}"`).join(', ')}`,
      'use "auto" (off on kernels before 5.7), "on" or "off"',
    );
  }
  return value.toLowerCase() as ChecksumOffloadMode;
}

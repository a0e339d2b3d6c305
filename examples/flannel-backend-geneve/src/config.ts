import { foldKeys, UserError, type Logger } from '@flannel-ts/core';

/** The geneve port IANA assigned, and the kernel's default. */
export const DEFAULT_PORT = 6081;
/**
 * What the device's MTU gives up to the outer headers, as flannel's vxlan subtracts them: 50 over IPv4,
 * 70 over IPv6 (the kernel refuses a larger MTU there). This device carries bare IP packets, so the
 * headers take 36 (56) of it; the rest is room for geneve options.
 */
export const OVERHEAD_V4 = 50;
export const OVERHEAD_V6 = 70;

/** net-conf `Backend` keys of the geneve backend. */
export interface GeneveConfig {
  /** The tunnel id every packet carries; peers must use the same. */
  vni: number;
  /** The UDP port packets are sent to and received on; peers must use the same. */
  port: number;
}

const FIELDS = ['Type', 'VNI', 'Port'] as const;

/** Reads the options (keys matched case-insensitively, as Go's JSON does); unknown keys are warned about. */
export function parseGeneveConfig(backend: Record<string, unknown>, logger?: Logger): GeneveConfig {
  const f = foldKeys(backend, FIELDS);
  for (const key of f.unknown ?? []) logger?.warn({ field: `Backend.${key}` }, 'unknown geneve backend field, ignored');
  return { vni: uint('VNI', f.VNI, 1, 1, 0xffffff), port: uint('Port', f.Port, DEFAULT_PORT, 1, 65535) };
}

function uint(field: string, value: unknown, dflt: number, min: number, max: number): number {
  if (value === undefined || value === null) return dflt;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new UserError(
      `Backend.${field}`,
      `${JSON.stringify(value)} is not a whole number from ${min} to ${max}`,
      `set ${field} to a number in that range, or leave it out (default ${dflt})`,
    );
  }
  return value;
}

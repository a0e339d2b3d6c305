import { BACKEND_CONTRACT_VERSION } from '../contracts/backend-plugin.js';

/** "1.1" or 1 as [major, minor]; undefined when it is neither. */
export function parseContractVersion(v: unknown): [number, number] | undefined {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return [v, 0];
  if (typeof v !== 'string') return undefined;
  const m = /^(\d+)(?:\.(\d+))?$/.exec(v.trim());
  return m ? [Number(m[1]), Number(m[2] ?? 0)] : undefined;
}

/**
 * Whether a plugin built for contract `v` runs on this core: the same major, and a minor no newer than
 * ours (a plugin for 1.2 may use what 1.1 lacks). Returns the reason when it does not.
 */
export function contractMismatch(v: unknown): string | undefined {
  const plugin = parseContractVersion(v);
  const core = parseContractVersion(BACKEND_CONTRACT_VERSION)!;
  if (!plugin) return `its contractVersion ${JSON.stringify(v)} is not a version such as "${BACKEND_CONTRACT_VERSION}"`;
  if (plugin[0] !== core[0] || plugin[1] > core[1]) {
    return `it implements backend contract v${plugin[0]}.${plugin[1]}, but this flanneld implements v${BACKEND_CONTRACT_VERSION} (a plugin for ${core[0]}.x up to ${BACKEND_CONTRACT_VERSION} loads)`;
  }
  return undefined;
}

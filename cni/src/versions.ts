import { CNI_ERR, CniError } from './cni-error.js';

/** Every CNI spec version this plugin speaks, oldest first. */
export const SUPPORTED_VERSIONS = ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
export const LATEST_VERSION = '1.1.0';

const rank = (v: string) => (SUPPORTED_VERSIONS as readonly string[]).indexOf(v);

export const isSupported = (v: string) => rank(v) >= 0;

/** Compares two supported versions like a sort comparator. */
export const compareVersions = (a: string, b: string) => rank(a) - rank(b);

export const atLeast = (v: string, min: string) => compareVersions(v, min) >= 0;

/**
 * The version to call a delegate at: the highest it supports that is not newer than `wanted`, so that its
 * result only ever needs converting upwards; failing that (a delegate that dropped old versions), its
 * lowest one we know, if `allowNewer`.
 */
export function negotiate(delegateVersions: readonly string[], wanted: string, delegate: string, allowNewer = false): string {
  const known = delegateVersions.filter(isSupported).sort(compareVersions);
  const older = known.filter((v) => compareVersions(v, wanted) <= 0);
  const pick = older.at(-1) ?? (allowNewer ? known[0] : undefined);
  if (pick === undefined) {
    throw new CniError(
      CNI_ERR.incompatibleVersion,
      `the delegate plugin "${delegate}" supports CNI versions [${delegateVersions.join(', ')}], none of them usable for ${wanted}`,
      'upgrade the delegate plugin (Debian: containernetworking-plugins) or lower cniVersion in the network config',
    );
  }
  return pick;
}

/**
 * The answer to CNI_COMMAND=VERSION. A plugin from before 0.3.0 may answer without a list, which libcni
 * reads as 0.1.0 and 0.2.0.
 */
export function parseVersionReply(stdout: string, delegate: string): string[] {
  let reply: unknown;
  try {
    reply = JSON.parse(stdout);
  } catch {
    reply = undefined;
  }
  if (typeof reply === 'object' && reply !== null) {
    const { supportedVersions, cniVersion } = reply as { supportedVersions?: unknown; cniVersion?: unknown };
    if (Array.isArray(supportedVersions) && supportedVersions.every((v) => typeof v === 'string')) return supportedVersions;
    if (supportedVersions === undefined && cniVersion === '0.2.0') return ['0.1.0', '0.2.0'];
  }
  throw new CniError(CNI_ERR.internal, `the delegate plugin "${delegate}" answered VERSION with something that is not a version list`, stdout.slice(0, 200));
}

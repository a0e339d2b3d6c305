import type { Logger, Netlink } from '@flannel-ts/core';

export type ChecksumOffloadMode = 'auto' | 'on' | 'off';
export const CHECKSUM_OFFLOAD_MODES: readonly ChecksumOffloadMode[] = ['auto', 'on', 'off'];

/**
 * `auto` turns TX checksum offload off on kernels older than this. Go flannel's most reported vxlan problem
 * (flannel #1279, #2152: inter-node traffic dropped behind NAT, e.g. kube-proxy's masquerade, fixed by
 * `ethtool -K flannel.1 tx-checksum-ip-generic off`) is reported from 3.x/4.x and early 5.x kernels; we take
 * 5.7 as the first release not to need the workaround. Offload costs nothing to keep where it works, and
 * software checksums cost a little CPU where it is turned off, so `auto` errs towards off on old kernels.
 */
export const CHECKSUM_SAFE_KERNEL: readonly [number, number] = [5, 7];

export interface ChecksumDecision {
  mode: ChecksumOffloadMode;
  /** Whether TX checksum offload stays on for the vxlan device. */
  offload: boolean;
  reason: string;
}

/** What the mode means on this kernel (`os.release()`, e.g. "5.4.0-150-generic"). */
export function decideChecksumOffload(mode: ChecksumOffloadMode, kernelRelease: string): ChecksumDecision {
  if (mode === 'on') return { mode, offload: true, reason: 'ChecksumOffload is "on"' };
  if (mode === 'off') return { mode, offload: false, reason: 'ChecksumOffload is "off"' };
  const m = /^(\d+)\.(\d+)/.exec(kernelRelease);
  if (!m) return { mode, offload: true, reason: `kernel release ${JSON.stringify(kernelRelease)} not understood; offload left on` };
  const [major, minor] = [Number(m[1]), Number(m[2])];
  const [safeMajor, safeMinor] = CHECKSUM_SAFE_KERNEL;
  const old = major < safeMajor || (major === safeMajor && minor < safeMinor);
  return old
    ? {
        mode,
        offload: false,
        reason: `kernel ${major}.${minor} is older than ${safeMajor}.${safeMinor}, where the vxlan checksum offload bug behind NAT is reported`,
      }
    : { mode, offload: true, reason: `kernel ${major}.${minor} is ${safeMajor}.${safeMinor} or newer` };
}

/**
 * Sets the device's TX checksum offload as decided. With offload on, the kernel's default, nothing needs
 * changing unless the mode asks for it explicitly ("on" puts it back after someone turned it off).
 */
export async function applyChecksumOffload(nl: Netlink, device: string, d: ChecksumDecision, logger: Logger): Promise<void> {
  if (d.offload && d.mode === 'auto') return;
  if (!nl.linkSetTxChecksum) {
    logger.warn({ device, mode: d.mode }, 'this netlink cannot change checksum offload; ChecksumOffload is not applied');
    return;
  }
  await nl.linkSetTxChecksum(device, d.offload);
}

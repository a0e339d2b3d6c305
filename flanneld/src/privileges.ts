import { readFileSync } from 'node:fs';
import { UserError } from '@flannel-ts/core';

const CAP_NET_ADMIN = 12;

/** Whether the effective capability set in /proc/self/status text (`CapEff: 000001ffffffffff`) holds CAP_NET_ADMIN. */
export function hasNetAdmin(procStatus: string): boolean {
  const m = /^CapEff:\s*([0-9a-f]+)$/im.exec(procStatus);
  if (!m) return true; // no such line (not Linux procfs): let the kernel say no if it must
  return (BigInt(`0x${m[1]}`) & (1n << BigInt(CAP_NET_ADMIN))) !== 0n;
}

/**
 * flanneld creates devices, routes and rules: without CAP_NET_ADMIN every one of those fails with EPERM, far
 * from the cause. Checked first, with the fix in the message.
 */
export function requireNetAdmin(what: string, read: () => string = () => readFileSync('/proc/self/status', 'utf8')): void {
  let text: string;
  try {
    text = read();
  } catch {
    return;
  }
  if (!hasNetAdmin(text)) {
    throw new UserError(
      'privileges',
      `${what} needs CAP_NET_ADMIN to program devices, routes and rules, and this process does not have it`,
      'run it as root (sudo), or give it CAP_NET_ADMIN (and CAP_NET_RAW); in Kubernetes, run the pod privileged or add NET_ADMIN',
    );
  }
}

/** Checks that this process may program the network (CAP_NET_ADMIN); bound by the composition root, replaced in tests. */
export const NetAdminCheck = Symbol.for('flannel-ts.NetAdminCheck');
export const netAdminCheck = (): void => requireNetAdmin('flanneld');

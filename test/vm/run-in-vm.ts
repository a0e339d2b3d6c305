// The nested-kernel runner (test/vm/vmrun) from TypeScript.
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const VMRUN = fileURLToPath(new URL('./vmrun', import.meta.url)).replace(/\/dist\/vm\//, '/vm/');
export const REPO = join(dirname(VMRUN), '..', '..');

export interface VmResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runInVm(cmd: string[], opts: { timeoutS?: number; memMiB?: number; share?: string[] } = {}): Promise<VmResult> {
  const args = ['--timeout', String(opts.timeoutS ?? 600), '--mem', String(opts.memMiB ?? 1024)];
  for (const d of opts.share ?? []) args.push('--share', d);
  return new Promise((resolve) => {
    execFile(VMRUN, [...args, '--', ...cmd], { cwd: REPO, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

export const inGuest = () => process.env.VMRUN_GUEST === '1';

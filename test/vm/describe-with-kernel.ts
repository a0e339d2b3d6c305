// The one helper through which a jest suite that needs a kernel feature this host lacks runs itself
// inside the nested kernel instead.
import { relative } from 'node:path';
import { missingKernelFeature } from '../harness/kernel-features.js';
import { inGuest, REPO, runInVm } from './run-in-vm.js';

/**
 * How long one suite may run in the VM: boot, jest, and every test at its own timeout. The ipip suite takes
 * ~6 min on an idle 2-core machine and its tests allow 15 min each; a busy machine makes emulation slower
 * still. Only a broken run gets near this.
 */
export const VM_SUITE_TIMEOUT_S = 2400;
/** The jest test around it: the VM's time, and vmrun fetching the kernel and building the initramfs on a first run. */
const VM_TEST_TIMEOUT_MS = (VM_SUITE_TIMEOUT_S + 300) * 1000;

/**
 * `describe(title, body)` where the kernel has `backend`'s feature (this host, or inside the VM); on a host
 * without it, one test that runs this same file's suites inside the nested kernel and passes only if
 * they all pass there. `testFile` is the suite's own path (`fileURLToPath(import.meta.url)`).
 */
export function describeWithKernelFeature(backend: string, testFile: string, title: string, body: () => void): void {
  const missing = inGuest() ? undefined : missingKernelFeature(backend);
  if (!missing) {
    describe(title, body);
    return;
  }
  describe(`${title} (in a nested kernel: this host lacks ${missing})`, () => {
    it(
      'passes inside the VM',
      async () => {
        const jest = [
          'node',
          '--experimental-vm-modules',
          'node_modules/jest/bin/jest.js',
          '--selectProjects',
          'integration',
          '--runTestsByPath',
          relative(REPO, testFile),
        ];
        const started = Date.now();
        const r = await runInVm(jest, { timeoutS: VM_SUITE_TIMEOUT_S, share: [REPO] });
        const output = `${r.stdout}${r.stderr}`;
        process.stderr.write(
          `[vm] ${relative(REPO, testFile)}: exit ${r.code} after ${((Date.now() - started) / 1000).toFixed(0)} s; ${/jest: .*/.exec(output)?.[0] ?? 'no jest summary'}\n`,
        );
        if (r.code !== 0) throw new Error(`inside the VM the suite exited ${r.code}:\n${output.slice(-6000)}`);
      },
      VM_TEST_TIMEOUT_MS,
    );
  });
}

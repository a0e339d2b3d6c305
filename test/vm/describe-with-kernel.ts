// The one helper through which a jest suite that needs a kernel feature this host lacks runs itself
// inside the nested kernel instead.
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { missingKernelFeature } from '../harness/kernel-features.js';
import { inGuest, REPO, runInVm } from './run-in-vm.js';
import { BATCH_DIR_ENV } from './vm-batch.mjs';

/**
 * How long one suite may run in a VM of its own: boot, jest, and every test at its own timeout. The ipip suite
 * takes ~3 min on a 2-core machine and its tests allow 15 min each; a busy machine makes emulation slower
 * still. Only a broken run gets near this. A batch of several suites gets more (batchTimeoutS in vm-batch.mjs).
 */
export const VM_SUITE_TIMEOUT_S = 2400;
/** Beyond the VM's own limit: vmrun fetching the kernel and building the initramfs on a first run. */
const FIRST_RUN_SLACK_MS = 300_000;

interface Batch {
  dir: string;
  suites: string[];
  timeoutS: number;
  startedAt: number;
}

/** The run's batch VM (test/vm/vm-batch.mjs), when jest's globalSetup started one that includes `testFile`. */
function batchFor(testFile: string): Batch | undefined {
  const dir = process.env[BATCH_DIR_ENV];
  if (!dir || !existsSync(join(dir, 'batch.json'))) return undefined;
  const batch = { dir, ...(JSON.parse(readFileSync(join(dir, 'batch.json'), 'utf8')) as Omit<Batch, 'dir'>) };
  return batch.suites.includes(testFile) ? batch : undefined;
}

interface FileResult {
  name: string;
  status: string;
  message: string;
  assertionResults: { status: string; title: string; duration?: number | null }[];
  startTime: number;
  endTime: number;
}

/** Waits for the batch VM to finish, then judges `testFile` by its own results: all passed, at least one ran. */
async function resultFromBatch(batch: Batch, testFile: string): Promise<void> {
  const exitFile = join(batch.dir, 'exit');
  while (!existsSync(exitFile)) await new Promise((r) => setTimeout(r, 1000));
  const { code: exit, endedAt } = JSON.parse(readFileSync(exitFile, 'utf8')) as { code: number | string; endedAt: number };
  const output = () => readFileSync(join(batch.dir, 'output.log'), 'utf8').slice(-6000);
  const resultsFile = join(batch.dir, 'results.json');
  const mine = existsSync(resultsFile)
    ? (JSON.parse(readFileSync(resultsFile, 'utf8')) as { testResults: FileResult[] }).testResults.find((r) => r.name === testFile)
    : undefined;
  const count = (s: string) => mine?.assertionResults.filter((a) => a.status === s).length ?? 0;
  const summary = `jest: ${count('passed')} passed, ${count('failed')} failed, ${count('pending')} skipped`;
  process.stderr.write(
    `[vm] ${relative(REPO, testFile)}: ${mine ? `${summary}, ${((mine.endTime - mine.startTime) / 1000).toFixed(0)} s in the guest` : 'no result'}; ` +
      `one boot for ${batch.suites.length} suite(s): exit ${exit} after ${((endedAt - batch.startedAt) / 1000).toFixed(0)} s\n`,
  );
  // Where the VM's time went, for whoever looks at a slow CI run.
  for (const a of mine?.assertionResults ?? []) process.stderr.write(`[vm]   ${a.status} ${a.title} (${((a.duration ?? 0) / 1000).toFixed(1)} s)\n`);
  if (!mine) throw new Error(`the VM (exit ${exit}) gave no result for this suite:\n${output()}`);
  if (mine.status !== 'passed' || count('failed') > 0 || count('passed') === 0) {
    throw new Error(`inside the VM the suite ${mine.status} (${summary}):\n${mine.message.slice(-6000) || output()}`);
  }
}

/** Boots a VM of its own for `testFile` (no batch: e.g. a run whose config has no globalSetup). */
async function resultFromOwnVm(testFile: string): Promise<void> {
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
}

/**
 * `describe(title, body)` where the kernel has `backend`'s feature (this host, or inside the VM); on a host
 * without it, one test that passes only if this same file's suites all pass inside the nested kernel: in the
 * run's batch VM when jest's globalSetup started one with this file, else in a VM of its own. `testFile` is
 * the suite's own path (`fileURLToPath(import.meta.url)`).
 */
export function describeWithKernelFeature(backend: string, testFile: string, title: string, body: () => void): void {
  const missing = inGuest() ? undefined : missingKernelFeature(backend);
  if (!missing) {
    describe(title, body);
    return;
  }
  const batch = batchFor(testFile);
  describe(`${title} (in a nested kernel: this host lacks ${missing})`, () => {
    it(
      'passes inside the VM',
      () => (batch ? resultFromBatch(batch, testFile) : resultFromOwnVm(testFile)),
      (batch?.timeoutS ?? VM_SUITE_TIMEOUT_S) * 1000 + FIRST_RUN_SLACK_MS,
    );
  });
}

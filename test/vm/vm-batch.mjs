// One guest boot for every suite of a jest run that needs the nested kernel, started before the first test
// so that the VM (one emulated CPU, one host core) runs beside the host suites instead of after them.
//
// jest calls, in its main process: the sequencer (test/vm/jest-sequencer.mjs), which sees every test file of
// the run, records the nested-kernel suites and puts them last; then globalSetup (startVmBatch), which boots
// one VM running them all under one jest, its JSON results in a shared folder. Each suite's host-side
// stand-in (describeWithKernelFeature) waits for that folder's `exit` file and passes only on its own file's
// results. Plain JavaScript: jest loads these hooks with Node's own loader, without the TypeScript transform.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');
const VMRUN = join(REPO, 'test/vm/vmrun');
/**
 * The guest's CPUs (FTS_VM_CPUS overrides, for measuring). Two halve the suites' own time (geneve's case: 129 s
 * with one, 65 s with two), and cost ~20 s more at the start (file reads contend under multi-threaded TCG).
 */
const GUEST_CPUS = process.env.FTS_VM_CPUS ?? '2';
/** The environment variable through which the suites' stand-ins find the batch folder. */
export const BATCH_DIR_ENV = 'FTS_VM_BATCH_DIR';
const RECORDED = Symbol.for('flannel-ts.vm-batch.suites');
const RUNNING = Symbol.for('flannel-ts.vm-batch.child');
/** A suite that calls describeWithKernelFeature('<feature>', ...): the feature is its first argument. */
const FEATURE_CALL = /describeWithKernelFeature\(\s*'([^']+)'/;

/**
 * The batch's VM time limit: the one-suite limit (VM_SUITE_TIMEOUT_S in describe-with-kernel.ts) and 10 min
 * more for each further suite. Only a broken run gets near it; CI itself stops at 90 min.
 */
export const batchTimeoutS = (suites) => 2400 + 600 * Math.max(0, suites - 1);

/** The nested-kernel suites among `paths` (absolute test file paths), with the kernel feature each needs. */
export function nestedKernelSuites(paths) {
  const out = [];
  for (const path of paths) {
    if (!path.endsWith('.test.ts') || !existsSync(path)) continue;
    const m = FEATURE_CALL.exec(readFileSync(path, 'utf8'));
    if (m) out.push({ path, feature: m[1] });
  }
  return out;
}

/** Called by the sequencer with the run's test files; returns the nested-kernel suites among them. */
export function recordSuites(paths) {
  globalThis[RECORDED] = nestedKernelSuites(paths);
  return globalThis[RECORDED];
}

/**
 * Which features this kernel lacks, by the same probes the suites use (test/harness/kernel-features.ts, as
 * built into test/dist by `npm run build`). Without a build every feature counts as missing: a suite whose
 * feature the host has then runs on the host anyway, and the batch's result for it is not read.
 */
async function missingOnHost(features) {
  let probe;
  try {
    probe = (await import(join(REPO, 'test/dist/harness/kernel-features.js'))).missingKernelFeature;
  } catch {
    return new Set(features);
  }
  return new Set(features.filter((f) => probe(f) !== undefined));
}

/** jest globalSetup: boot the batch when the run has nested-kernel suites and this is the host. */
export async function startVmBatch() {
  if (process.env.VMRUN_GUEST === '1' || process.env[BATCH_DIR_ENV]) return;
  const recorded = globalThis[RECORDED] ?? [];
  if (recorded.length === 0) return;
  const missing = await missingOnHost([...new Set(recorded.map((s) => s.feature))]);
  const suites = recorded.filter((s) => missing.has(s.feature)).map((s) => s.path);
  if (suites.length === 0) return;

  const dir = mkdtempSync(join(tmpdir(), 'fts-vm-batch-'));
  const timeoutS = batchTimeoutS(suites.length);
  writeFileSync(join(dir, 'batch.json'), JSON.stringify({ suites, timeoutS, startedAt: Date.now() }));
  const jest = ['node', '--experimental-vm-modules', 'node_modules/jest/bin/jest.js', '--selectProjects', 'integration', '--runInBand'];
  const args = ['--timeout', String(timeoutS), '--mem', '2048', '--cpus', GUEST_CPUS, '--share', REPO, '--share', dir, '--'];
  args.push(...jest, '--json', `--outputFile=${join(dir, 'results.json')}`, '--runTestsByPath', ...suites.map((s) => relative(REPO, s)));
  const log = openSync(join(dir, 'output.log'), 'w');
  // Its own process group, so that stopping it reaches qemu under vmrun's timeout(1) too.
  const child = spawn(VMRUN, args, { cwd: REPO, stdio: ['ignore', log, log], detached: true });
  closeSync(log);
  const stopGroup = () => {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
  };
  process.once('exit', stopGroup);
  const done = (code) => writeFileSync(join(dir, 'exit'), JSON.stringify({ code, endedAt: Date.now() }));
  child.on('error', (err) => {
    writeFileSync(join(dir, 'output.log'), `vm batch: cannot start ${VMRUN}: ${err.message}\n`, { flag: 'a' });
    done(127);
  });
  child.on('exit', (code, signal) => done(code ?? `signal ${signal}`));
  globalThis[RUNNING] = { child, dir, stopGroup };
  process.env[BATCH_DIR_ENV] = dir;
  process.stderr.write(`[vm] one guest boot for ${suites.length} suite(s): ${suites.map((s) => relative(REPO, s)).join(', ')}\n`);
}

/** jest globalTeardown: a batch still running (a bailed or interrupted run) is stopped; its folder goes. */
export async function stopVmBatch() {
  const running = globalThis[RUNNING];
  if (!running) return;
  delete globalThis[RUNNING];
  delete process.env[BATCH_DIR_ENV];
  const { child, dir, stopGroup } = running;
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    stopGroup();
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000).unref())]);
  }
  rmSync(dir, { recursive: true, force: true });
}

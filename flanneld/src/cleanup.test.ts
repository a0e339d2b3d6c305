import 'reflect-metadata';
import { BACKEND_CONTRACT_VERSION, type BackendDescriptor } from '@flannel-ts/core';
import { FakeNetlink, RecordingLogger } from '@flannel-ts/core/testing';
import type { BackendSource } from '@flannel-ts/backends';
import { describePlan, NodeCleanup } from './cleanup.js';

/** A backend whose cleanup hook removes one device, and says whether it was asked to. */
function backend(name: string) {
  const calls: boolean[] = [];
  const d: BackendDescriptor = {
    name,
    contractVersion: BACKEND_CONTRACT_VERSION,
    create: () => {
      throw new Error('not used');
    },
    cleanup: async ({ dryRun }) => {
      calls.push(dryRun);
      return [`${name}: device ${name}.1`];
    },
  };
  return { d, calls };
}

function cleanup(sources: BackendSource[]) {
  const logger = new RecordingLogger();
  const runner = { run: async () => ({ code: 1, stdout: '', stderr: 'no such table' }) };
  return { logger, c: new NodeCleanup(new FakeNetlink(), runner, logger, async () => true, [], sources) };
}

describe('NodeCleanup with a backend that will not load', () => {
  const ok = backend('vxlan');
  const sources: BackendSource[] = [
    { name: 'vxlan', load: async () => ok.d },
    { name: 'udp', load: async () => Promise.reject(new Error("Cannot find module 'ffi-rs'")) },
  ];

  it('lists it in the plan, beside what the others would remove', async () => {
    const plan = await cleanup(sources).c.plan();
    expect(plan.devices).toEqual(['vxlan: device vxlan.1']);
    expect(plan.skipped).toEqual(["udp: Cannot find module 'ffi-rs'"]);
    expect(describePlan(plan)).toContain("  skipped  udp: Cannot find module 'ffi-rs' (its backend would not load: what it made was not looked for)");
  });

  it('removes the rest, and exits 1 naming it', async () => {
    ok.calls.length = 0;
    const { c, logger } = cleanup(sources);
    expect(await c.run({ dryRun: false, yes: true, interactive: false })).toBe(1);
    expect(ok.calls).toEqual([true, false]);
    expect(logger.messages('error')).toContain('some backends could not be loaded: their devices may remain; reinstall flannel-ts and run --cleanup again');
  });

  it('exits 0 when every backend loads', async () => {
    expect(await cleanup([sources[0]!]).c.run({ dryRun: false, yes: true, interactive: false })).toBe(0);
  });
});

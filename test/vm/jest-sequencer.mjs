// jest's own order, with the suites that run in the nested kernel moved last and recorded for globalSetup
// (test/vm/vm-batch.mjs): their host-side stand-ins only wait for the VM, which runs meanwhile.
import Sequencer from '@jest/test-sequencer';
import { recordSuites } from './vm-batch.mjs';

export default class NestedKernelLastSequencer extends Sequencer {
  async sort(tests) {
    const sorted = await super.sort(tests);
    const nested = new Set(recordSuites(sorted.map((t) => t.path)).map((s) => s.path));
    return [...sorted.filter((t) => !nested.has(t.path)), ...sorted.filter((t) => nested.has(t.path))];
  }
}

// The nested-kernel runner itself: it returns the command's output and exit code, and fails loudly
// (exit 125 with the console's tail) when the guest never reports.
import { runInVm } from './run-in-vm.js';

describe('vmrun', () => {
  it('runs the command on a kernel with ipip and returns its stdout, stderr and exit code', async () => {
    const r = await runInVm(['sh', '-c', 'echo "$VMRUN_GUEST"; ip link add t0 type ipip local 192.0.2.1 && echo ipip; echo oops >&2; exit 7'], { timeoutS: 120 });
    expect(r).toEqual({ code: 7, stdout: '1\nipip\n', stderr: 'oops\n' });
  }, 150_000);

  it('exits 125 and shows the console tail when the guest never reports', async () => {
    const r = await runInVm(['sleep', '600'], { timeoutS: 8 });
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('the guest reported no exit code');
    expect(r.stderr).toContain('console tail');
  }, 60_000);
});

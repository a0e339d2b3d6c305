// The nested-kernel runner itself: it returns the command's output and exit code, and fails loudly
// (exit 125 with the console's tail) when the guest never reports.
import { runInVm } from './run-in-vm.js';

// A trivial command takes ~3 s when the machine is idle. The first run also fetches the kernel package
// (~70 MB) and builds the initramfs, outside the VM's own timeout; a busy machine slows emulation down.
const FIRST_RUN_ALLOWANCE_MS = 300_000;
const GUEST_TIMEOUT_S = 300;

describe('vmrun', () => {
  it(
    'runs the command on a kernel with ipip and returns its stdout, stderr and exit code',
    async () => {
      const r = await runInVm(['sh', '-c', 'echo "$VMRUN_GUEST"; ip link add t0 type ipip local 192.0.2.1 && echo ipip; echo oops >&2; exit 7'], {
        timeoutS: GUEST_TIMEOUT_S,
      });
      expect(r).toEqual({ code: 7, stdout: '1\nipip\n', stderr: 'oops\n' });
    },
    GUEST_TIMEOUT_S * 1000 + FIRST_RUN_ALLOWANCE_MS,
  );

  it(
    'exits 125 and shows the console tail when the guest never reports',
    async () => {
      // 8 s is far less than the guest's command (sleep 600) needs, however fast or slow the machine is.
      const r = await runInVm(['sleep', '600'], { timeoutS: 8 });
      expect(r.code).toBe(125);
      expect(r.stderr).toContain('the guest reported no exit code');
      expect(r.stderr).toContain('console tail');
    },
    FIRST_RUN_ALLOWANCE_MS,
  );
});

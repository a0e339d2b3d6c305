// tcpdump inside a namespace: stopping a capture so that its last words are read, and the source addresses of
// the first ICMP echo requests it sees.
import { startProcess, stopProcess, waitForOutput, type Started } from './processes.js';
import { DEADLINE } from './wait.js';

/** `timeoutMs` bounds each wait (tcpdump listening, the first request); a missed request gives []. */
export async function captureIcmpSources(ns: string, iface: string, trigger: () => void, timeoutMs: number = DEADLINE.convergeMs): Promise<string[]> {
  const p = startProcess('tcpdump', ['-n', '-l', '-i', iface, '-c', '1', 'icmp[icmptype] == icmp-echo'], { netns: ns });
  await waitForOutput(p, (o) => o.includes('listening on'), timeoutMs, 'tcpdump start');
  trigger();
  await waitForOutput(p, (o) => / IP \S+ > /.test(o), timeoutMs, 'an echo request').catch(() => undefined);
  await stopCapture(p);
  return [...p.output().matchAll(/ IP (\S+) > /g)].map((m) => m[1]!);
}

/**
 * Ends a tcpdump started by a test: SIGINT, then waits until it has exited and its pipes are drained, so that
 * output() holds every packet line and the closing counts ("N packets captured", "N packets received by
 * filter"). A tcpdump that had to be killed, or failed, throws with its output: a cut-off capture must not
 * read as an empty one.
 */
export async function stopCapture(p: Started): Promise<void> {
  await stopProcess(p.child, 15_000, 'SIGINT');
  const code = await p.closed;
  if (code !== 0) throw new Error(`tcpdump ended with ${code}, not 0:\n${p.output().slice(-2000)}`);
}

// tcpdump inside a namespace: the source addresses of the first ICMP echo requests it sees.
import { startProcess, stopProcess, waitForOutput } from './processes.js';
import { DEADLINE } from './wait.js';

/** `timeoutMs` bounds each wait (tcpdump listening, the first request); a missed request gives []. */
export async function captureIcmpSources(ns: string, iface: string, trigger: () => void, timeoutMs: number = DEADLINE.convergeMs): Promise<string[]> {
  const p = startProcess('tcpdump', ['-n', '-l', '-i', iface, '-c', '1', 'icmp[icmptype] == icmp-echo'], { netns: ns });
  await waitForOutput(p, (o) => o.includes('listening on'), timeoutMs, 'tcpdump start');
  trigger();
  await waitForOutput(p, (o) => / IP \S+ > /.test(o), timeoutMs, 'an echo request').catch(() => undefined);
  await stopProcess(p.child, 500);
  return [...p.output().matchAll(/ IP (\S+) > /g)].map((m) => m[1]!);
}

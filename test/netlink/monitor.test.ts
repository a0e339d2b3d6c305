// The monitor against the real kernel: events arrive promptly while timers keep running, and a process
// that unsubscribes exits by itself.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { filter, firstValueFrom, timeout } from 'rxjs';
import { netlinkMonitor, type NetlinkEvent } from '@flannel-ts/core/netlink';
import { cleanupNetns, createNetns, ipIn } from '../harness/netns.js';

let ns: string;
beforeAll(() => {
  ns = createNetns('mon');
});
afterAll(() => cleanupNetns());

describe('netlinkMonitor', () => {
  it('reports a link deletion within 100 ms while timers keep firing', async () => {
    ipIn(ns, 'link', 'add', 'gone0', 'type', 'bridge');
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    try {
      const deleted = firstValueFrom(
        netlinkMonitor(['link'], { netns: ns }).pipe(
          filter((e): e is Extract<NetlinkEvent, { topic: 'link' }> => e.topic === 'link' && e.action === 'del' && e.link.name === 'gone0'),
          timeout(2000),
        ),
      );
      await new Promise((r) => setTimeout(r, 50));
      const ticksBefore = ticks;
      const t0 = performance.now();
      ipIn(ns, 'link', 'del', 'gone0');
      const event = await deleted;
      const elapsed = performance.now() - t0;
      expect(event.link.kind).toBe('bridge');
      expect(elapsed).toBeLessThan(100);
      await new Promise((r) => setTimeout(r, 30));
      expect(ticks - ticksBefore).toBeGreaterThanOrEqual(3); // the loop was never held
    } finally {
      clearInterval(timer);
    }
  });

  it('reports route and address changes', async () => {
    ipIn(ns, 'link', 'add', 'mon-a', 'type', 'veth', 'peer', 'name', 'mon-b');
    ipIn(ns, 'link', 'set', 'mon-a', 'up');
    const events: NetlinkEvent[] = [];
    const sub = netlinkMonitor(['addr', 'route'], { netns: ns }).subscribe((e) => events.push(e));
    await new Promise((r) => setTimeout(r, 20));
    ipIn(ns, 'addr', 'add', '198.18.5.1/24', 'dev', 'mon-a');
    ipIn(ns, 'route', 'add', '10.99.0.0/16', 'via', '198.18.5.2');
    await new Promise((r) => setTimeout(r, 100));
    sub.unsubscribe();
    expect(events.some((e) => e.topic === 'addr' && e.action === 'new' && String(e.addr.ip) === '198.18.5.1')).toBe(true);
    expect(events.some((e) => e.topic === 'route' && e.action === 'new' && String(e.route.dst) === '10.99.0.0/16')).toBe(true);
  });

  it('lets the process exit once unsubscribed', async () => {
    const script = `
      import { netlinkMonitor } from '@flannel-ts/core/netlink';
      import { execFileSync } from 'node:child_process';
      const sub = netlinkMonitor(['link'], { netns: ${JSON.stringify(ns)} }).subscribe((e) => {
        if (e.link.name === 'exit0' && e.action === 'new') { console.log('event'); sub.unsubscribe(); }
      });
      setTimeout(() => execFileSync('ip', ['-n', ${JSON.stringify(ns)}, 'link', 'add', 'exit0', 'type', 'bridge']), 20);
    `;
    const t0 = Date.now();
    const { stdout } = await promisify(execFile)('node', ['--input-type=module', '-e', script], { timeout: 5000, cwd: process.cwd() });
    expect(stdout.trim()).toBe('event');
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});

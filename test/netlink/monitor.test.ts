// The monitor against the real kernel: events arrive, in the order the kernel made them, while timers keep
// running, and a process that unsubscribes exits by itself. How fast events arrive is for `npm run bench`;
// the bounds here are timeouts only, generous enough for a loaded machine.
//
// No test waits for the monitor to "settle": subscribing opens and binds the netlink socket synchronously,
// so every change made after subscribe() returns is queued for it.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { filter, firstValueFrom, take, timeout, toArray } from 'rxjs';
import { netlinkMonitor, type NetlinkEvent } from '@flannel-ts/core/netlink';
import { cleanupNetns, createNetns, execIn, ipIn, sh } from '../harness/netns.js';
import { waitFor } from '../harness/wait.js';

/** Upper bound for anything that should take milliseconds; only reached when something is broken. */
const EVENT_TIMEOUT_MS = 20_000;
/** A fresh `node` importing the netlink library takes ~0.5 s here, and several times that under load. */
const CHILD_TIMEOUT_MS = 60_000;

let ns: string;
beforeAll(() => {
  ns = createNetns('mon');
});
afterAll(() => cleanupNetns());

type LinkEvent = Extract<NetlinkEvent, { topic: 'link' }>;

/** RTNLGRP_IPV4_ROUTE and RTNLGRP_IPV6_ROUTE, as /proc/net/netlink prints a socket's groups. */
const ROUTE_GROUPS = ((1 << 6) | (1 << 10)).toString(16).padStart(8, '0');

/** The bytes queued (Rmem) on each rtnetlink socket of the namespace that listens to route changes only. */
function routeMonitorQueues(procNetNetlink: string): number[] {
  // sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode
  return procNetNetlink
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f[1] === '0' && f[3] === ROUTE_GROUPS)
    .map((f) => Number(f[4]));
}
const isLinkEvent = (e: NetlinkEvent): e is LinkEvent => e.topic === 'link';

describe('netlinkMonitor', () => {
  it(
    'reports link deletions in the order they happened, and timers keep firing while it listens',
    async () => {
      ipIn(ns, 'link', 'add', 'gone0', 'type', 'bridge');
      ipIn(ns, 'link', 'add', 'gone1', 'type', 'bridge');
      let ticks = 0;
      const timer = setInterval(() => ticks++, 5);
      try {
        const deletions = firstValueFrom(
          netlinkMonitor(['link'], { netns: ns }).pipe(
            filter((e): e is LinkEvent => isLinkEvent(e) && e.action === 'del' && e.link.name.startsWith('gone')),
            take(2),
            toArray(),
            timeout(EVENT_TIMEOUT_MS),
          ),
        );
        // A monitor that blocked the event loop (a synchronous recv) would starve the interval.
        const subscribedAt = ticks;
        expect(await waitFor(() => ticks >= subscribedAt + 3, EVENT_TIMEOUT_MS)).toBe(true);
        ipIn(ns, 'link', 'del', 'gone0');
        ipIn(ns, 'link', 'del', 'gone1');
        const events = await deletions;
        expect(events.map((e) => [e.link.name, e.link.kind])).toEqual([
          ['gone0', 'bridge'],
          ['gone1', 'bridge'],
        ]);
        const deliveredAt = ticks;
        expect(await waitFor(() => ticks >= deliveredAt + 3, EVENT_TIMEOUT_MS)).toBe(true);
      } finally {
        clearInterval(timer);
      }
    },
    EVENT_TIMEOUT_MS * 3,
  );

  it(
    'reports route and address changes',
    async () => {
      ipIn(ns, 'link', 'add', 'mon-a', 'type', 'veth', 'peer', 'name', 'mon-b');
      ipIn(ns, 'link', 'set', 'mon-a', 'up');
      const isOurAddr = (e: NetlinkEvent) => e.topic === 'addr' && e.action === 'new' && String(e.addr.ip) === '198.18.5.1';
      const isOurRoute = (e: NetlinkEvent) => e.topic === 'route' && e.action === 'new' && String(e.route.dst) === '10.99.0.0/16';
      const events: NetlinkEvent[] = [];
      const sub = netlinkMonitor(['addr', 'route'], { netns: ns }).subscribe((e) => events.push(e));
      try {
        ipIn(ns, 'addr', 'add', '198.18.5.1/24', 'dev', 'mon-a');
        ipIn(ns, 'route', 'add', '10.99.0.0/16', 'via', '198.18.5.2');
        await waitFor(() => events.some(isOurAddr) && events.some(isOurRoute), EVENT_TIMEOUT_MS);
      } finally {
        sub.unsubscribe();
      }
      expect(events.some(isOurAddr)).toBe(true);
      expect(events.some(isOurRoute)).toBe(true);
      // The address came first, so its event does too (the route needs the address's subnet to exist).
      expect(events.findIndex(isOurAddr)).toBeLessThan(events.findIndex(isOurRoute));
    },
    EVENT_TIMEOUT_MS * 2,
  );

  it(
    'with deletionsOnly the kernel queues no additions for it, and deletions still come',
    async () => {
      ipIn(ns, 'link', 'add', 'drop-a', 'type', 'veth', 'peer', 'name', 'drop-b');
      ipIn(ns, 'link', 'set', 'drop-a', 'up');
      const deletions: NetlinkEvent[] = [];
      const filtered = netlinkMonitor(['route'], { netns: ns, deletionsOnly: ['route'] }).subscribe((e) => deletions.push(e));
      // The same topic without the option: the control, whose queue the same additions fill.
      const control = netlinkMonitor(['route'], { netns: ns }).subscribe(() => undefined);
      try {
        // Synchronous from here to the read of the queues: neither monitor can read its socket meanwhile.
        sh('ip', ['-n', ns, '-batch', '-'], { input: Array.from({ length: 50 }, (_, i) => `route add 10.98.${i}.0/24 dev drop-a\n`).join('') });
        const queued = routeMonitorQueues(execIn(ns, 'cat', '/proc/net/netlink'));
        expect(queued).toHaveLength(2);
        expect(Math.min(...queued)).toBe(0);
        expect(Math.max(...queued)).toBeGreaterThan(0);
        ipIn(ns, 'route', 'del', '10.98.7.0/24');
        await waitFor(() => deletions.length > 0, EVENT_TIMEOUT_MS);
        expect(deletions.map((e) => e.topic === 'route' && `${e.action} ${String(e.route.dst)}`)).toEqual(['del 10.98.7.0/24']);
      } finally {
        filtered.unsubscribe();
        control.unsubscribe();
      }
    },
    EVENT_TIMEOUT_MS * 2,
  );

  it(
    "reports nf_tables changes, nft's and iptables-nft's",
    async () => {
      const changes: NetlinkEvent[] = [];
      const sub = netlinkMonitor(['nftables'], { netns: ns }).subscribe((e) => changes.push(e));
      try {
        execIn(ns, 'nft', 'add', 'table', 'inet', 'fts_mon');
        expect(await waitFor(() => changes.length > 0, EVENT_TIMEOUT_MS)).toBe(true);
        expect(changes[0]).toEqual({ topic: 'nftables', action: 'change' });
        const before = changes.length;
        execIn(ns, 'iptables', '-t', 'filter', '-N', 'FTS-MON');
        expect(await waitFor(() => changes.length > before, EVENT_TIMEOUT_MS)).toBe(true);
      } finally {
        sub.unsubscribe();
      }
    },
    EVENT_TIMEOUT_MS * 2 + 10_000,
  );

  it(
    'lets the process exit once unsubscribed',
    async () => {
      // The change is made right after subscribe(): the socket is bound by then, so the event is queued.
      const script = `
      import { netlinkMonitor } from '@flannel-ts/core/netlink';
      import { execFileSync } from 'node:child_process';
      const sub = netlinkMonitor(['link'], { netns: ${JSON.stringify(ns)} }).subscribe((e) => {
        if (e.link.name === 'exit0' && e.action === 'new') { console.log('event'); sub.unsubscribe(); }
      });
      execFileSync('ip', ['-n', ${JSON.stringify(ns)}, 'link', 'add', 'exit0', 'type', 'bridge']);
    `;
      // A process that kept the monitor's handle open would never exit: execFile kills it at the timeout and
      // rejects, which fails the test.
      const { stdout } = await promisify(execFile)('node', ['--input-type=module', '-e', script], { timeout: CHILD_TIMEOUT_MS, cwd: process.cwd() });
      expect(stdout.trim()).toBe('event');
    },
    CHILD_TIMEOUT_MS + 10_000,
  );
});

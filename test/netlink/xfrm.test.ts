// XFRM policies through NetlinkHandle against this kernel, in a namespace: flannel's three policies per peer
// (reqid 11, ESP, tunnel mode) written in one batch, read back through our dump and through `ip -s xfrm
// policy`, replaced, deleted by selector, and heard on the monitor. This kernel has no ESP, so there are no
// SAs here: a policy does not need one to exist (charon adds them in the nested kernel's e2e test).
import { jest } from '@jest/globals';
import { filter, firstValueFrom, take, timeout, toArray } from 'rxjs';
import { IP, IPNet } from '@flannel-ts/core';
import { NetlinkArgumentError, NetlinkError, NetlinkHandle, requests, type NetlinkEvent, type XfrmPolicy } from '@flannel-ts/core/netlink';
import { addUnderlay, cleanupNetns, createNetns, ipIn } from '../harness/netns.js';
import { DEADLINE } from '../harness/wait.js';

jest.setTimeout(DEADLINE.testMs);

/** Upper bound for a notification that should take milliseconds; only reached when something is broken. */
const EVENT_TIMEOUT_MS = 20_000;

let ns: string;
let h: NetlinkHandle;

beforeAll(() => {
  ns = createNetns('xfrm');
  h = NetlinkHandle.open({ netns: ns });
});
afterAll(() => {
  h?.close();
  cleanupNetns();
});
afterEach(() => ipIn(ns, 'xfrm', 'policy', 'flush'));

/** Flannel's three policies for one peer (facts §6.5): out to it, in and fwd from it, reqid 11. */
function flannelPolicies(ours: string, theirs: string, ourIP: string, theirIP: string): XfrmPolicy[] {
  const tmpl = (src: string, dst: string) => ({ src: IP.parse(src), dst: IP.parse(dst), proto: 'esp' as const, mode: 'tunnel' as const, reqid: 11 });
  const [o, t] = [IPNet.parse(ours), IPNet.parse(theirs)];
  return [
    { src: o, dst: t, dir: 'out', tmpls: [tmpl(ourIP, theirIP)] },
    { src: t, dst: o, dir: 'in', tmpls: [tmpl(theirIP, ourIP)] },
    { src: t, dst: o, dir: 'fwd', tmpls: [tmpl(theirIP, ourIP)] },
  ];
}

/** One line per policy, the same for ours and for iproute2's: what both say about it. */
function line(p: { dir: string; src: string; dst: string; index: number; priority: number; action: string; mark?: string; tmpls: string[] }): string {
  return `${p.dir} ${p.src} -> ${p.dst} index ${p.index} priority ${p.priority} ${p.action}${p.mark ? ` mark ${p.mark}` : ''} ${p.tmpls.join(' ')}`;
}

function ourLines(ps: XfrmPolicy[]): string[] {
  return ps
    .map((p) =>
      line({
        dir: p.dir,
        src: String(p.src),
        dst: String(p.dst),
        index: p.index!,
        priority: p.priority!,
        action: p.action ?? 'allow',
        ...(p.mark ? { mark: `0x${p.mark.value.toString(16)}/0x${p.mark.mask.toString(16)}` } : {}),
        tmpls: p.tmpls.map((t) => `tmpl ${t.src} -> ${t.dst} ${t.proto} spi ${t.spi ?? 0} reqid ${t.reqid} ${t.mode}`),
      }),
    )
    .sort();
}

/**
 * `ip -s xfrm policy` as the same lines; also checks every policy has the lifetimes and algorithm masks
 * `ip xfrm` itself would have given it (no limits, no expiry, any algorithm).
 */
function iprouteLines(): string[] {
  const text = ipIn(ns, '-s', 'xfrm', 'policy', 'show');
  return text
    .split(/^(?=src )/m)
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const sel = /^src (\S+) dst (\S+)/.exec(block)!;
      const info = /dir (\w+) action (\w+) index (\d+) priority (\d+)/.exec(block)!;
      expect(block).toMatch(/limit: soft \(INF\)\(bytes\), hard \(INF\)\(bytes\)\s+limit: soft \(INF\)\(packets\), hard \(INF\)\(packets\)/);
      expect(block).toMatch(/expire add: soft 0\(sec\), hard 0\(sec\)\s+expire use: soft 0\(sec\), hard 0\(sec\)/);
      const mark = /mark (0x[0-9a-f]+\/0x[0-9a-f]+)/.exec(block)?.[1];
      const tmpls = [
        ...block.matchAll(
          /tmpl src (\S+) dst (\S+)\s+proto (\w+) spi 0x[0-9a-f]+\((\d+)\) reqid (\d+)\(0x[0-9a-f]+\) mode (\w+)\s+level required share any\s+enc-mask ffffffff auth-mask ffffffff comp-mask ffffffff/g,
        ),
      ].map((m) => `tmpl ${m[1]} -> ${m[2]} ${m[3]} spi ${m[4]} reqid ${m[5]} ${m[6]}`);
      return line({
        dir: info[1]!,
        src: sel[1]!,
        dst: sel[2]!,
        index: Number(info[3]),
        priority: Number(info[4]),
        action: info[2]!,
        ...(mark ? { mark } : {}),
        tmpls,
      });
    })
    .sort();
}

describe.each([
  ['IPv4', 4, flannelPolicies('10.244.1.0/24', '10.244.2.0/24', '192.0.2.1', '192.0.2.2')],
  ['IPv6', 6, flannelPolicies('fd00:10:244:1::/64', 'fd00:10:244:2::/64', '2001:db8::1', '2001:db8::2')],
] as const)('XFRM policies, %s', (_name, family, policies) => {
  it("writes a peer's three policies in one batch; our dump and `ip xfrm policy` read back the same", async () => {
    expect(await h.apply(policies.map((p) => requests.xfrmPolicyUpdate(p)))).toEqual([undefined, undefined, undefined]);
    const dumped = await h.xfrmPolicyList(family);
    expect(dumped).toHaveLength(3);
    // As written, plus what the kernel adds: priority 0 and an index whose low 3 bits are the direction.
    for (const p of policies) {
      const got = dumped.find((d) => d.dir === p.dir)!;
      expect(got).toEqual({ ...p, priority: 0, index: expect.any(Number) });
      expect(got.index! & 7).toBe({ in: 0, out: 1, fwd: 2 }[p.dir]);
    }
    expect(ourLines(dumped)).toEqual(iprouteLines());
    expect(await h.xfrmPolicyList(family === 4 ? 6 : 4)).toEqual([]);
  });

  it('replaces a policy in place: same selector and direction, new template, same index, no duplicate', async () => {
    await h.apply(policies.map((p) => requests.xfrmPolicyUpdate(p)));
    const before = (await h.xfrmPolicyList(family)).find((p) => p.dir === 'out')!;
    const moved = family === 4 ? IP.parse('192.0.2.3') : IP.parse('2001:db8::3');
    const out = policies[0]!;
    await h.xfrmPolicyUpdate({ ...out, priority: 5, tmpls: [{ ...out.tmpls[0]!, dst: moved, spi: 0x1234 }] });
    const after = await h.xfrmPolicyList(family);
    expect(after).toHaveLength(3);
    const replaced = after.find((p) => p.dir === 'out')!;
    expect(replaced).toEqual({ ...out, priority: 5, index: before.index, tmpls: [{ ...out.tmpls[0]!, dst: moved, spi: 0x1234 }] });
    expect(ourLines(after)).toEqual(iprouteLines());
  });

  it('deletes by selector and direction only; a second delete is ENOENT, not a crash', async () => {
    await h.apply(policies.map((p) => requests.xfrmPolicyUpdate(p)));
    const fwd = policies[2]!;
    await h.xfrmPolicyDel({ src: fwd.src, dst: fwd.dst, dir: 'fwd' });
    expect((await h.xfrmPolicyList(family)).map((p) => p.dir).sort()).toEqual(['in', 'out']);
    expect(iprouteLines()).toHaveLength(2);
    const err = await h.xfrmPolicyDel(fwd).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetlinkError);
    expect(err).toMatchObject({ code: 'ENOENT', op: `ip xfrm policy delete src ${fwd.src} dst ${fwd.dst} dir fwd` });
  });
});

describe('XFRM policies in a batch, with marks, and the errors', () => {
  const [out, inbound] = flannelPolicies('10.244.1.0/24', '10.244.2.0/24', '192.0.2.1', '192.0.2.2') as [XfrmPolicy, XfrmPolicy, XfrmPolicy];

  it('runs XFRM and rtnetlink requests of one batch in order, each with its own result', async () => {
    addUnderlay(ns);
    const eth0 = (await h.linkByName('eth0'))!.index;
    const addr = { linkIndex: eth0, ip: IP.parse('192.0.2.1'), prefixLen: 24 };
    const results = await h.apply([
      requests.addrAdd(addr),
      requests.xfrmPolicyDel(out), // not there yet
      requests.xfrmPolicyUpdate(out),
      requests.xfrmPolicyUpdate(inbound),
      requests.addrAdd(addr), // already there
      requests.xfrmPolicyDel(inbound),
    ]);
    expect(results.map((r) => r?.code)).toEqual([undefined, 'ENOENT', undefined, undefined, 'EEXIST', undefined]);
    expect(results[1]!.message).toBe('ip xfrm policy delete src 10.244.1.0/24 dst 10.244.2.0/24 dir out: no such file or directory (ENOENT)');
    expect(ourLines(await h.xfrmPolicyList())).toEqual(iprouteLines());
    expect((await h.xfrmPolicyList()).map((p) => p.dir)).toEqual(['out']);
  });

  it('keeps policies that differ only by mark apart, and deletes only the one whose mark is named', async () => {
    const marked = { ...out, mark: { value: 0x10, mask: 0xff } };
    await h.xfrmPolicyUpdate(out);
    await h.xfrmPolicyUpdate(marked);
    expect(ourLines(await h.xfrmPolicyList())).toEqual(iprouteLines());
    expect((await h.xfrmPolicyList()).map((p) => p.mark)).toEqual(expect.arrayContaining([undefined, { value: 0x10, mask: 0xff }]));
    await h.xfrmPolicyDel({ src: out.src, dst: out.dst, dir: 'out' });
    expect((await h.xfrmPolicyList()).map((p) => p.mark)).toEqual([{ value: 0x10, mask: 0xff }]);
    await h.xfrmPolicyDel(marked);
    expect(await h.xfrmPolicyList()).toEqual([]);
  });

  it("passes on the kernel's refusal of an index that names another direction (EINVAL)", async () => {
    const err = await h.xfrmPolicyUpdate({ ...inbound, index: 9 }).catch((e: unknown) => e); // 9 & 7 = 1: an out index
    expect(err).toBeInstanceOf(NetlinkError);
    expect(err).toMatchObject({ code: 'EINVAL' });
    expect(await h.xfrmPolicyList()).toEqual([]);
  });

  it('refuses a malformed policy before sending anything', async () => {
    const err = await h.xfrmPolicyUpdate({ ...out, dst: IPNet.parse('fd00::/64') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetlinkArgumentError);
    expect((err as Error).message).toMatch(/src is IPv4 but dst is IPv6/);
    expect(iprouteLines()).toEqual([]);
  });
});

describe('the xfrm-policy monitor topic', () => {
  const [out, inbound] = flannelPolicies('10.244.1.0/24', '10.244.2.0/24', '192.0.2.1', '192.0.2.2') as [XfrmPolicy, XfrmPolicy, XfrmPolicy];
  type XfrmEvent = Extract<NetlinkEvent, { topic: 'xfrm-policy' }>;
  const isXfrm = (e: NetlinkEvent): e is XfrmEvent => e.topic === 'xfrm-policy';

  it('hears policies added, replaced, deleted by hand and flushed, in order', async () => {
    // (Flushing an empty table announces nothing, hence the policy added just before the flush.)
    // Subscribing binds the socket synchronously: every change after subscribe() is queued for it.
    const events = firstValueFrom(h.monitor(['xfrm-policy']).pipe(filter(isXfrm), take(5), toArray(), timeout(EVENT_TIMEOUT_MS)));
    await h.xfrmPolicyUpdate(out);
    await h.xfrmPolicyUpdate({ ...out, priority: 3 });
    ipIn(ns, 'xfrm', 'policy', 'delete', 'src', '10.244.1.0/24', 'dst', '10.244.2.0/24', 'dir', 'out');
    await h.xfrmPolicyUpdate(inbound);
    ipIn(ns, 'xfrm', 'policy', 'flush');
    const got = await events;
    expect(got.map((e) => (e.action === 'flush' ? 'flush' : `${e.action} ${e.policy.dir} ${e.policy.src} priority ${e.policy.priority}`))).toEqual([
      'new out 10.244.1.0/24 priority 0',
      'new out 10.244.1.0/24 priority 3',
      'del out 10.244.1.0/24 priority 3',
      'new in 10.244.2.0/24 priority 0',
      'flush',
    ]);
    expect(got[2]).toMatchObject({ action: 'del', policy: { ...out, priority: 3 } });
  });

  // Route and XFRM notifications come over two sockets: the order within each holds, not across them.
  it('with deletionsOnly skips XFRM additions without skipping route deletions (whose message type an XFRM update shares)', async () => {
    ipIn(ns, 'route', 'add', 'blackhole', '10.99.0.0/16');
    const events = firstValueFrom(
      h.monitor(['route', 'xfrm-policy'], { deletionsOnly: ['xfrm-policy'] }).pipe(
        filter((e) => e.topic === 'xfrm-policy' || (e.topic === 'route' && String(e.route.dst) === '10.99.0.0/16')),
        take(3),
        toArray(),
        timeout(EVENT_TIMEOUT_MS),
      ),
    );
    await h.xfrmPolicyUpdate(inbound); // XFRM_MSG_NEWPOLICY: skipped
    await h.xfrmPolicyUpdate({ ...inbound, priority: 1 }); // XFRM_MSG_UPDPOLICY (25): skipped
    ipIn(ns, 'route', 'del', 'blackhole', '10.99.0.0/16'); // RTM_DELROUTE (25): heard
    await h.xfrmPolicyDel(inbound);
    ipIn(ns, 'route', 'add', 'blackhole', '10.99.0.0/16'); // RTM_NEWROUTE: heard (route is not deletions-only)
    const got = await events;
    expect(got.filter((e) => e.topic === 'route').map((e) => e.action)).toEqual(['del', 'new']);
    expect(got.filter(isXfrm)).toEqual([{ topic: 'xfrm-policy', action: 'del', policy: { ...inbound, priority: 1, index: expect.any(Number) } }]);
  });
});

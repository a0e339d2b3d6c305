// FakeNetlink's XFRM policy table behaves as test/netlink/xfrm.test.ts shows the kernel does: one policy per
// selector, direction and mark; an update replaces in place and keeps the index; the index's low 3 bits are
// the direction; deleting a missing policy is ENOENT; changes are announced on the 'xfrm-policy' topic.
import { constants } from 'node:os';
import { firstValueFrom, take, toArray } from 'rxjs';
import { IP } from '../ip/ip.js';
import { IPNet } from '../ip/ipnet.js';
import { NetlinkError } from '../netlink/errors.js';
import type { NetlinkEvent } from '../netlink/monitor.js';
import * as requests from '../netlink/requests.js';
import type { XfrmPolicy } from '../netlink/xfrm.js';
import { FakeNetlink } from './fake-netlink.js';

const tmpl = (src: string, dst: string) => ({ src: IP.parse(src), dst: IP.parse(dst), proto: 'esp' as const, mode: 'tunnel' as const, reqid: 11 });
const out: XfrmPolicy = { src: IPNet.parse('10.244.1.0/24'), dst: IPNet.parse('10.244.2.0/24'), dir: 'out', tmpls: [tmpl('192.0.2.1', '192.0.2.2')] };
const fwd: XfrmPolicy = { src: IPNet.parse('10.244.2.0/24'), dst: IPNet.parse('10.244.1.0/24'), dir: 'fwd', tmpls: [tmpl('192.0.2.2', '192.0.2.1')] };
const out6: XfrmPolicy = { src: IPNet.parse('fd00:1::/64'), dst: IPNet.parse('fd00:2::/64'), dir: 'out', tmpls: [tmpl('2001:db8::1', '2001:db8::2')] };

describe('FakeNetlink XFRM policies', () => {
  it('adds through apply, lists them as the kernel reports them (priority, index by direction), by family', async () => {
    const nl = new FakeNetlink();
    expect(await nl.apply([requests.xfrmPolicyUpdate(out), requests.xfrmPolicyUpdate({ ...fwd, tmpls: [{ ...fwd.tmpls[0]!, spi: 0 }] })])).toEqual([
      undefined,
      undefined,
    ]);
    await nl.xfrmPolicyUpdate(out6);
    const v4 = await nl.xfrmPolicyList(4);
    expect(v4).toEqual([
      { ...out, priority: 0, index: expect.any(Number) },
      { ...fwd, priority: 0, index: expect.any(Number) }, // a zero SPI is no SPI, as the kernel reports it
    ]);
    expect(v4.map((p) => p.index! & 7)).toEqual([1, 2]);
    expect((await nl.xfrmPolicyList(6)).map((p) => p.dir)).toEqual(['out']);
    expect(await nl.xfrmPolicyList()).toHaveLength(3);
    expect(nl.ops[0]).toBe('ip xfrm policy update src 10.244.1.0/24 dst 10.244.2.0/24 dir out tmpl src 192.0.2.1 dst 192.0.2.2 proto esp reqid 11 mode tunnel');
  });

  it('replaces a policy of the same selector and direction in place, keeping its index', async () => {
    const nl = new FakeNetlink();
    await nl.xfrmPolicyUpdate(out);
    const [before] = await nl.xfrmPolicyList();
    await nl.xfrmPolicyUpdate({ ...out, priority: 4, tmpls: [tmpl('192.0.2.1', '192.0.2.9')] });
    expect(await nl.xfrmPolicyList()).toEqual([{ ...out, priority: 4, index: before!.index, tmpls: [tmpl('192.0.2.1', '192.0.2.9')] }]);
  });

  it('keeps policies apart by mark, and deletes by selector, direction and mark; a missing one is ENOENT', async () => {
    const nl = new FakeNetlink();
    const marked = { ...out, mark: { value: 1, mask: 0xff } };
    await nl.xfrmPolicyUpdate(out);
    await nl.xfrmPolicyUpdate(marked);
    expect(nl.xfrmPolicies.size).toBe(2);
    await nl.xfrmPolicyDel({ src: out.src, dst: out.dst, dir: 'out' });
    expect((await nl.xfrmPolicyList()).map((p) => p.mark)).toEqual([{ value: 1, mask: 0xff }]);
    const err = await nl.xfrmPolicyDel({ src: out.src, dst: out.dst, dir: 'out' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetlinkError);
    expect(err).toMatchObject({
      code: 'ENOENT',
      message: 'ip xfrm policy delete src 10.244.1.0/24 dst 10.244.2.0/24 dir out: no such file or directory (ENOENT)',
    });
    expect((await nl.apply([requests.xfrmPolicyDel(marked), requests.xfrmPolicyDel(marked)])).map((r) => r?.code)).toEqual([undefined, 'ENOENT']);
  });

  it("announces additions, deletions (someone else's too) and a flush on the 'xfrm-policy' topic", async () => {
    const nl = new FakeNetlink();
    const events = firstValueFrom(nl.monitor(['xfrm-policy']).pipe(take(4), toArray()));
    await nl.xfrmPolicyUpdate(out);
    await nl.xfrmPolicyUpdate(fwd);
    await nl.xfrmPolicyDel(out); // as `ip xfrm policy delete` by hand would
    nl.xfrmPolicyFlush();
    const got = await events;
    expect(got.map((e) => `${e.action}${e.topic === 'xfrm-policy' && e.action !== 'flush' ? ` ${e.policy.dir}` : ''}`)).toEqual([
      'new out',
      'new fwd',
      'del out',
      'flush',
    ]);
    expect(got[2]).toEqual({ topic: 'xfrm-policy', action: 'del', policy: { ...out, priority: 0, index: expect.any(Number) } });
    expect(nl.xfrmPolicies.size).toBe(0);
  });

  it('drops additions for a deletions-only subscriber', async () => {
    const nl = new FakeNetlink();
    const seen: NetlinkEvent[] = [];
    const sub = nl.monitor(['xfrm-policy'], { deletionsOnly: ['xfrm-policy'] }).subscribe((e) => seen.push(e));
    await nl.xfrmPolicyUpdate(out);
    await nl.xfrmPolicyDel(out);
    sub.unsubscribe();
    expect(seen.map((e) => e.action)).toEqual(['del']);
  });

  it('hands out copies: changing what it returned changes nothing inside', async () => {
    const nl = new FakeNetlink();
    await nl.xfrmPolicyUpdate(out);
    const [p] = await nl.xfrmPolicyList();
    p!.tmpls[0]!.reqid = 99;
    p!.tmpls.push(tmpl('192.0.2.7', '192.0.2.8'));
    expect((await nl.xfrmPolicyList())[0]!.tmpls).toEqual(out.tmpls);
  });

  it('can be a kernel without XFRM netlink: every request fails with EPROTONOSUPPORT', async () => {
    const nl = new FakeNetlink();
    nl.xfrm = false;
    expect((await nl.apply([requests.xfrmPolicyUpdate(out)]))[0]).toMatchObject({ errno: constants.errno.EPROTONOSUPPORT });
    await expect(nl.xfrmPolicyList()).rejects.toMatchObject({ code: 'EPROTONOSUPPORT' });
  });

  it('fails an XFRM request on demand, as every other request', async () => {
    const nl = new FakeNetlink();
    nl.failNext(/^ip xfrm policy update .* dir fwd/, constants.errno.ENOBUFS);
    expect((await nl.apply([requests.xfrmPolicyUpdate(out), requests.xfrmPolicyUpdate(fwd)])).map((r) => r?.code)).toEqual([undefined, 'ENOBUFS']);
    expect(nl.xfrmPolicies.size).toBe(1);
  });
});

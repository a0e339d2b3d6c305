import { IPNet } from '../ip/ipnet.js';
import { RecordingLogger } from '../testing/recording-logger.js';
import type { CommandRunner } from './command-runner.js';
import { IptablesBackend } from './iptables.js';
import { NftablesBackend } from './nftables.js';
import { iptablesMasqRules, nftMasqRules } from './rule-sets.js';
import { TrafficManager } from './traffic-manager.js';
import { Subject } from 'rxjs';
import { systemClock } from '../util/system-clock.js';
import { FakeClock } from '../testing/fake-clock.js';

/** A fake iptables/nft: answers from `outputs` by command line and records what was run. */
function fakeRunner(outputs: Record<string, string> = {}) {
  const calls: { cmd: string; input?: string }[] = [];
  const runner: CommandRunner = {
    async run(cmd, args, input) {
      const line = [cmd, ...args].join(' ');
      calls.push(input === undefined ? { cmd: line } : { cmd: line, input });
      const out = Object.entries(outputs).find(([k]) => line.startsWith(k));
      if (out) return { code: 0, stdout: out[1], stderr: '' };
      return line.startsWith('nft list') ? { code: 1, stdout: '', stderr: 'No such file or directory' } : { code: 0, stdout: '', stderr: '' };
    },
  };
  return { runner, calls };
}

const v6 = { family: 6 as const, network: IPNet.parse('fd00:10:244::/56'), podSubnet: IPNet.parse('fd00:10:244:3::/64') };

describe('rule sets', () => {
  it('use ff00::/8 for IPv6 multicast, and ip6 in nft', () => {
    expect(iptablesMasqRules(v6, false)[4]).toBe('-s fd00:10:244::/56 ! -d ff00::/8 -m comment --comment "flanneld masq" -j MASQUERADE');
    expect(nftMasqRules(v6, true)[3]).toBe('ip6 saddr != fd00:10:244::/56 ip6 daddr fd00:10:244:3::/64 return');
  });
});

describe('IptablesBackend', () => {
  it('does nothing when the chain already holds exactly the rules and one jump', async () => {
    const rules = ['-s 10.1.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT'];
    const save = [':FLANNEL-FWD - [0:0]', '-A FORWARD -m comment --comment "flanneld forward" -j FLANNEL-FWD', `-A FLANNEL-FWD ${rules[0]}`].join('\n');
    const { runner, calls } = fakeRunner({ 'iptables-save -t filter': save });
    expect(await new IptablesBackend(runner, new RecordingLogger()).ensure({ family: 4, kind: 'forward', rules })).toBe(false);
    expect(calls.map((c) => c.cmd)).toEqual(['iptables-save -t filter']);
  });

  it('rebuilds the chain in one restore, adds a missing jump and drops duplicate ones', async () => {
    const jump = '-A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG';
    const { runner, calls } = fakeRunner({ 'ip6tables-save -t nat': [':FLANNEL-POSTRTG - [0:0]', jump, jump].join('\n') });
    await new IptablesBackend(runner, new RecordingLogger()).ensure({ family: 6, kind: 'masq', rules: ['-j RETURN'] });
    expect(calls[1]).toEqual({
      cmd: 'ip6tables-restore --noflush --wait',
      input: ['*nat', ':FLANNEL-POSTRTG - [0:0]', jump.replace('-A ', '-D '), '-A FLANNEL-POSTRTG -j RETURN', 'COMMIT', ''].join('\n'),
    });
  });

  it('takes --random-fully from iptables 1.6.2 on', async () => {
    const ver = (v: string) =>
      new IptablesBackend(fakeRunner({ 'iptables --version': `iptables v${v} (nf_tables)` }).runner, new RecordingLogger()).supportsFullyRandom(4);
    expect(await ver('1.6.1')).toBe(false);
    expect(await ver('1.6.2')).toBe(true);
    expect(await ver('1.8.9')).toBe(true);
  });

  it('asks iptables --version once for both what it can do and where its rules live', async () => {
    const { runner, calls } = fakeRunner({ 'iptables --version': 'iptables v1.8.9 (legacy)' });
    const ipt = new IptablesBackend(runner, new RecordingLogger());
    expect(await ipt.supportsFullyRandom(4)).toBe(true);
    expect(await ipt.inNfTables()).toBe(false);
    expect(calls.filter((c) => c.cmd === 'iptables --version')).toHaveLength(1);
  });
});

describe('NftablesBackend', () => {
  it('reads back zero-padded marks as the same rule', async () => {
    const listing =
      'table ip flannel-ipv4 {\n\tchain postrtg {\n\t\tcomment "x"\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n\t\tmeta mark 0x00004000 return\n\t}\n}\n';
    const { runner, calls } = fakeRunner({ 'nft list chain ip flannel-ipv4 postrtg': listing });
    expect(await new NftablesBackend(runner, new RecordingLogger()).ensure({ family: 4, kind: 'masq', rules: ['meta mark 0x4000 return'] })).toBe(false);
    expect(calls).toHaveLength(1);
  });
});

/** A TrafficManager (iptables, forward rules) resyncing every 5 s on a fake clock, given `iptables --version`'s answer. */
async function resyncing(version: string, changes: Subject<void>) {
  const { runner, calls } = fakeRunner({ 'iptables --version': `${version}\n` });
  const clock = new FakeClock();
  const tm = new TrafficManager(runner, new RecordingLogger(), clock, {
    nftables: false,
    ipMasq: false,
    fullyRandomDisable: true,
    forwardRules: true,
    resyncSeconds: 5,
    changes,
  });
  await tm.setup([{ family: 4, network: IPNet.parse('10.244.0.0/16'), podSubnet: IPNet.parse('10.244.3.0/24') }], undefined);
  const stop = new AbortController();
  const running = tm.resync(stop.signal);
  return { clock, stop, running, reads: () => calls.filter((c) => c.cmd === 'iptables-save -t filter').length };
}

describe('TrafficManager', () => {
  it("removes the other mode's rules first and says when it replaces a previous network's rules (OR, not AND)", async () => {
    const { runner, calls } = fakeRunner();
    const logger = new RecordingLogger();
    const tm = new TrafficManager(runner, logger, systemClock, {
      nftables: true,
      ipMasq: true,
      fullyRandomDisable: true,
      forwardRules: false,
      resyncSeconds: 5,
    });
    const nets = [{ family: 4 as const, network: IPNet.parse('10.244.0.0/16'), podSubnet: IPNet.parse('10.244.3.0/24') }];
    await tm.setup(nets, { networks: [IPNet.parse('10.244.0.0/16')], subnet: IPNet.parse('10.244.9.0/24'), ipv6Networks: [] });
    expect(calls[0]!.cmd).toBe('iptables-save -t nat');
    expect(logger.messages('info')).toContain('replacing the rules of the previous network or subnet');
    const script = calls.find((c) => c.cmd === 'nft -f -')!.input!;
    expect(script).toContain('add rule ip flannel-ipv4 postrtg ip saddr 10.244.0.0/16 ip daddr != 224.0.0.0/4 masquerade\n');
  });

  it('with change notifications, reads the rules only after a change, after lost notifications, or once a minute', async () => {
    const changes = new Subject<void>();
    const { clock, reads, stop, running } = await resyncing('iptables v1.8.9 (nf_tables)', changes);
    await clock.advance(5000);
    const first = reads(); // the first resync always reads
    expect(first).toBeGreaterThan(0);
    await clock.advance(5000);
    await clock.advance(5000);
    expect(reads()).toBe(first);
    changes.next();
    await clock.advance(5000);
    expect(reads()).toBe(first + 1);
    await clock.advance(55_000);
    expect(reads()).toBe(first + 1);
    await clock.advance(5000);
    expect(reads()).toBe(first + 2); // a minute without news: read anyway
    await clock.advance(5000);
    expect(reads()).toBe(first + 2);
    changes.error(new Error('netlink monitor (notifications were lost)'));
    await clock.advance(5000);
    expect(reads()).toBe(first + 3); // lost notifications: nothing is known, so read
    stop.abort();
    await running;
  });

  it('reads the rules at every resync when they live where no change is announced (iptables-legacy)', async () => {
    const { clock, reads, stop, running } = await resyncing('iptables v1.8.9 (legacy)', new Subject<void>());
    const before = reads();
    for (let i = 0; i < 3; i++) await clock.advance(5000);
    expect(reads()).toBe(before + 3);
    stop.abort();
    await running;
  });
});

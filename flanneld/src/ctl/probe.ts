import { execFile } from 'node:child_process';
import type { PeerStatus } from '@flannel-ts/core';
import type { StatusDocument } from '../daemon-state.js';
import { peerName, table } from './render.js';

export interface ProbeResult {
  peer: string;
  /** The address pinged: the peer's overlay address on vxlan (its subnet's .0), else its public IP. */
  target: string;
  via: 'overlay' | 'underlay';
  sent: number;
  received: number;
  lossPercent: number;
  rttAvgMs?: number;
  rttMaxMs?: number;
  /** Why it was not probed (a skipped peer). */
  skipped?: string;
}

/** Runs `ping`; injected so that the parsing is tested without a network. */
export type Pinger = (target: string, count: number) => Promise<string>;

export const systemPing: Pinger = (target, count) =>
  new Promise((resolve) => {
    const args = ['-n', '-q', '-c', String(count), '-i', '0.2', '-W', '1', target];
    execFile('ping', target.includes(':') ? ['-6', ...args] : args, { encoding: 'utf8' }, (_err, stdout, stderr) => resolve(`${stdout}${stderr}`));
  });

/** What to ping for a peer: the overlay address (its subnet's network address, on flannel.<VNI>) for vxlan, else the public IP. */
export function probeTarget(backend: string | undefined, p: PeerStatus): { target: string; via: 'overlay' | 'underlay' } | undefined {
  // vxlan and wireguard peers hold their subnet's first address on their device: pinging it tests the tunnel.
  if ((backend === 'vxlan' || backend === 'wireguard') && p.subnet) return { target: p.subnet.split('/')[0]!, via: 'overlay' };
  if (p.publicIP) return { target: p.publicIP, via: 'underlay' };
  if (p.publicIPv6) return { target: p.publicIPv6, via: 'underlay' };
  return undefined;
}

/** `N packets transmitted, M received, X% packet loss` and `rtt min/avg/max/mdev = a/b/c/d ms`. */
export function parsePing(text: string): Pick<ProbeResult, 'sent' | 'received' | 'lossPercent' | 'rttAvgMs' | 'rttMaxMs'> {
  const counts = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(text);
  const sent = counts ? Number(counts[1]) : 0;
  const received = counts ? Number(counts[2]) : 0;
  const rtt = /= ([\d.]+)\/([\d.]+)\/([\d.]+)\/[\d.]+ ms/.exec(text);
  return {
    sent,
    received,
    lossPercent: sent === 0 ? 100 : Math.round(((sent - received) / sent) * 1000) / 10,
    ...(rtt ? { rttAvgMs: Number(rtt[2]), rttMaxMs: Number(rtt[3]) } : {}),
  };
}

/** From this node to every peer, in parallel: round-trip time and loss, like cilium-health. */
export async function probe(status: StatusDocument, count: number, ping: Pinger = systemPing): Promise<ProbeResult[]> {
  const peers = status.network?.peers ?? [];
  return Promise.all(
    peers.map(async (p): Promise<ProbeResult> => {
      const t = probeTarget(status.backend, p);
      const base = { peer: peerName(p), target: t?.target ?? '-', via: t?.via ?? 'underlay' } as const;
      if (p.state === 'skipped' || !t) return { ...base, sent: 0, received: 0, lossPercent: 100, skipped: p.problems.join('; ') || 'no address to probe' };
      return { ...base, ...parsePing(await ping(t.target, count)) };
    }),
  );
}

export function renderProbe(self: string, results: ProbeResult[]): string {
  if (results.length === 0) return `${self}: no peers to probe\n`;
  const rows = results
    .sort((a, b) => a.peer.localeCompare(b.peer, 'en', { numeric: true }))
    .map((r) => [
      r.peer,
      `${r.target} (${r.via})`,
      r.skipped ? 'skipped' : `${r.received}/${r.sent}`,
      r.skipped ? '-' : `${r.lossPercent}%`,
      r.rttAvgMs === undefined ? '-' : `${r.rttAvgMs.toFixed(3)} ms`,
      r.skipped ?? (r.received === r.sent ? 'ok' : r.received === 0 ? 'UNREACHABLE' : 'LOSSY'),
    ]);
  return `from ${self}:\n${table(['PEER', 'TARGET', 'REPLIES', 'LOSS', 'RTT AVG', 'HEALTH'], rows)}\n`;
}

import type { PeerStatus } from '@flannel-ts/core';
import type { StatusDocument } from '../daemon-state.js';
import type { DeviceDiffEntry, DiffDocument } from '../healthz.js';

/** Columns padded to their widest cell; the last one is not padded. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].map((l) => `  ${l}`).join('\n');
}

export const peerName = (p: Pick<PeerStatus, 'subnet' | 'ipv6Subnet'>) => [p.subnet, p.ipv6Subnet].filter(Boolean).join(' ');

/** `flannelctl status` as text. */
export function renderStatus(s: StatusDocument): string {
  const out: string[] = [];
  const failing = Object.entries(s.checks).filter(([, c]) => !c.ok);
  out.push(`flanneld ${s.version} (pid ${s.pid}, since ${s.startedAt}): ${s.ready ? 'ready' : `NOT READY (${failing.map(([k]) => k).join(', ')})`}`);
  out.push(
    `backend    ${s.backend ?? '-'}${s.mtu ? `, pod MTU ${s.mtu}` : ''}${s.iface ? `, via ${s.iface.name} ${s.iface.address ?? ''} (MTU ${s.iface.mtu})` : ''}`,
  );
  if (s.lease) {
    const l = s.lease;
    out.push(
      `lease      ${[l.subnet, l.ipv6Subnet].filter(Boolean).join(' and ')}, public IP ${[l.publicIP, l.publicIPv6].filter(Boolean).join(' and ') || '-'}, expires ${l.expiration ?? 'never (reservation)'}`,
    );
  } else out.push('lease      none yet');
  out.push(
    `store      ${s.store.kind} at ${s.store.endpoint}: ${s.store.reachable ? 'reachable' : `UNREACHABLE since ${s.store.since} (${s.store.lastError ?? ''})`}`,
  );
  if (s.rules) {
    out.push(
      `rules      ${s.rules.mode}: ${s.rules.chains.join(', ') || 'none asked for'}; ${s.rules.inPlace ? 'in place' : `NOT in place (${s.rules.lastError ?? ''})`}${s.rules.lastResync ? `, checked ${s.rules.lastResync}` : ''}`,
    );
  }
  for (const [k, v] of Object.entries(s.network?.details ?? {})) out.push(`${k.padEnd(10)} ${typeof v === 'string' ? v : JSON.stringify(v)}`);
  const n = s.network;
  if (n) {
    const repairs = Object.entries(n.repairs);
    out.push(
      `reconcile  ${n.synced ? 'first full sync done' : 'first full sync not done yet'}; last pass: ${n.lastPass ? `${n.lastPass.kind} at ${n.lastPass.at}, ${n.lastPass.operations} operations, ${n.lastPass.failed} failed` : 'none yet'}; repairs: ${repairs.length ? repairs.map(([k, v]) => `${k} ${v}`).join(', ') : 'none'}`,
    );
  }
  for (const [name, c] of failing) out.push(`!          ${name}: ${c.detail}`);
  if (n) {
    out.push('', `peers (${n.peers.length}):`);
    if (n.peers.length === 0) out.push('  none');
    else {
      const rows = [...n.peers]
        .sort((a, b) => peerName(a).localeCompare(peerName(b), 'en', { numeric: true }))
        .map((p) => [
          peerName(p),
          [p.publicIP, p.publicIPv6].filter(Boolean).join(' ') || '-',
          p.state,
          p.backendData === undefined ? '-' : JSON.stringify(p.backendData),
          p.problems.join('; '),
        ]);
      out.push(table(['SUBNET', 'PUBLIC IP', 'STATE', 'BACKEND DATA', 'WHY'], rows));
    }
  }
  if (s.tunnels) {
    out.push('', `tunnel peers (${s.tunnels.length}):`);
    if (s.tunnels.length === 0) out.push('  none');
    else {
      const rows = s.tunnels.map((t) => [
        t.device,
        t.subnets.join(' '),
        t.endpoint ?? '-',
        t.latestHandshake ?? 'never',
        bytes(t.rxBytes),
        bytes(t.txBytes),
        t.publicKey,
      ]);
      out.push(table(['DEVICE', 'SUBNETS', 'ENDPOINT', 'LATEST HANDSHAKE', 'RECEIVED', 'SENT', 'PUBLIC KEY'], rows));
    }
  }
  return `${out.join('\n')}\n`;
}

/** 1536 → "1.50 KiB", as `wg show` prints transfer. */
export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(2)} ${units[i]}`;
}

/** `flannelctl diff` as text, grouped per device. */
export function renderDiff(d: DiffDocument): string {
  if (!d.supported) return 'the backend does not run on the reconciliation engine; nothing to compare\n';
  if (!d.differs) return 'the kernel holds exactly what the leases ask for\n';
  const all: (DeviceDiffEntry & { what: string })[] = [
    ...d.missing.map((e) => ({ ...e, what: 'missing' })),
    ...d.stale.map((e) => ({ ...e, what: 'stale' })),
    ...d.different.map((e) => ({ ...e, what: 'different' })),
  ];
  const devices = [...new Set(all.map((e) => e.device))].sort();
  const out: string[] = [];
  for (const dev of devices) {
    out.push(`${dev}:`);
    for (const e of all.filter((x) => x.device === dev)) {
      const detail = e.what === 'missing' ? `want ${e.want}` : e.what === 'stale' ? `holds ${e.have}, wanted by no lease` : `holds ${e.have}, want ${e.want}`;
      out.push(`  ${e.what.padEnd(9)} ${e.key}: ${detail}${e.peer ? ` (peer ${e.peer.replace(/ -$/, '')})` : ''}`);
    }
  }
  out.push(`${d.missing.length} missing, ${d.stale.length} stale, ${d.different.length} different`);
  return `${out.join('\n')}\n`;
}

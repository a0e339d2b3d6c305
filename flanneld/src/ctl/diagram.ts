import type { StatusDocument } from '../daemon-state.js';
import type { ProbeResult } from './probe.js';
import { peerName } from './render.js';

type Health = 'ok' | 'lossy' | 'down' | 'skipped' | 'unknown';

interface Edge {
  peer: string;
  publicIP: string;
  state: string;
  health: Health;
  note: string;
}

function edges(s: StatusDocument, probes?: ProbeResult[]): Edge[] {
  return (s.network?.peers ?? []).map((p) => {
    const name = peerName(p);
    const pr = probes?.find((r) => r.peer === name);
    const health: Health =
      p.state === 'skipped' ? 'skipped' : !pr ? 'unknown' : pr.skipped ? 'skipped' : pr.received === 0 ? 'down' : pr.received < pr.sent ? 'lossy' : 'ok';
    const rtt = pr?.rttAvgMs !== undefined ? `${pr.rttAvgMs.toFixed(2)} ms` : '';
    return { peer: name, publicIP: [p.publicIP, p.publicIPv6].filter(Boolean).join(' '), state: p.state, health, note: p.problems.join('; ') || rtt };
  });
}

function selfName(s: StatusDocument): string {
  return [s.lease?.subnet, s.lease?.ipv6Subnet].filter(Boolean).join(' ') || 'this node';
}

/** The node's view as text: this node in the middle of its tunnels, one line per peer. */
export function textDiagram(s: StatusDocument, probes?: ProbeResult[]): string {
  const self = `[ this node ${selfName(s)} @ ${s.lease?.publicIP ?? s.iface?.address ?? '?'} | ${s.backend ?? '?'} ${s.ready ? 'ready' : 'NOT READY'} ]`;
  const es = edges(s, probes);
  const lines = [self];
  es.sort((a, b) => a.peer.localeCompare(b.peer, 'en', { numeric: true })).forEach((e, i) => {
    const branch = i === es.length - 1 ? '└' : '├';
    const link = e.health === 'down' ? '══╳══' : e.health === 'skipped' ? '· · ·' : e.health === 'lossy' ? '══~══' : '═════';
    lines.push(
      `  ${branch}─${link}▶ [ ${e.peer} @ ${e.publicIP || '?'} ] ${e.state}${e.health !== 'unknown' ? `, ${e.health}` : ''}${e.note ? ` (${e.note})` : ''}`,
    );
  });
  if (es.length === 0) lines.push('  (no peers)');
  return `${lines.join('\n')}\n`;
}

const COLOURS: Record<Health, string> = { ok: '#2e7d32', lossy: '#f9a825', down: '#c62828', skipped: '#9e9e9e', unknown: '#1565c0' };

const esc = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * The same view as an SVG an operator can paste into a ticket: this node in the centre, every peer around
 * it, one tunnel each, coloured by health (green ok, amber lossy, red down, grey skipped, blue not probed).
 */
export function svgDiagram(s: StatusDocument, probes?: ProbeResult[]): string {
  const es = edges(s, probes);
  const n = Math.max(es.length, 1);
  const radius = 120 + Math.min(n, 40) * 6;
  const size = 2 * radius + 360;
  const cx = size / 2;
  const cy = size / 2;
  const parts: string[] = [];
  const node = (x: number, y: number, title: string, sub: string, colour: string, id: string) =>
    `<g class="node" id="${esc(id)}"><rect x="${x - 95}" y="${y - 26}" width="190" height="52" rx="8" fill="#fff" stroke="${colour}" stroke-width="2"/>` +
    `<text x="${x}" y="${y - 4}" text-anchor="middle" font-size="13" font-weight="bold">${esc(title)}</text>` +
    `<text x="${x}" y="${y + 14}" text-anchor="middle" font-size="11">${esc(sub)}</text></g>`;
  es.forEach((e, i) => {
    const a = (2 * Math.PI * i) / n - Math.PI / 2;
    const x = Math.round(cx + radius * Math.cos(a));
    const y = Math.round(cy + radius * Math.sin(a));
    const colour = COLOURS[e.health];
    parts.push(
      `<line class="tunnel" x1="${cx}" y1="${cy}" x2="${x}" y2="${y}" stroke="${colour}" stroke-width="3"${e.health === 'skipped' ? ' stroke-dasharray="6 6"' : ''}><title>${esc(`${e.peer}: ${e.state}, ${e.health}${e.note ? `, ${e.note}` : ''}`)}</title></line>`,
    );
    parts.push(node(x, y, e.peer, `${e.publicIP} · ${e.health}`, colour, `peer-${e.peer}`));
  });
  parts.push(
    node(
      cx,
      cy,
      selfName(s),
      `${s.lease?.publicIP ?? ''} · ${s.backend ?? ''} · ${s.ready ? 'ready' : 'not ready'}`,
      s.ready ? COLOURS.ok : COLOURS.down,
      'self',
    ),
  );
  const legend = (Object.entries(COLOURS) as [Health, string][])
    .map(
      ([h, c], i) =>
        `<rect x="${16 + i * 90}" y="${size - 30}" width="12" height="12" fill="${c}"/><text x="${32 + i * 90}" y="${size - 20}" font-size="11">${h}</text>`,
    )
    .join('');
  const title = `flannel ${s.backend ?? ''} overlay seen from ${selfName(s)}`;
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 ${size} ${size}" font-family="sans-serif">` +
    `<title>${esc(title)}</title><rect width="100%" height="100%" fill="#fafafa"/>` +
    `<text x="16" y="24" font-size="15" font-weight="bold">${esc(title)}</text>${parts.join('')}${legend}</svg>\n`
  );
}

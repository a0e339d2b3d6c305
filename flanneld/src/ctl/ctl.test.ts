import type { PeerStatus } from '@flannel-ts/core';
import type { StatusDocument } from '../daemon-state.js';
import { svgDiagram, textDiagram } from './diagram.js';
import { parsePing, probe, probeTarget } from './probe.js';
import { bytes, renderDiff, renderStatus } from './render.js';

const status = (peers: PeerStatus[]): StatusDocument => ({
  version: 'v0.1.0',
  pid: 1,
  startedAt: '2026-01-01T00:00:00.000Z',
  backend: 'vxlan',
  ready: true,
  checks: {} as StatusDocument['checks'],
  store: { kind: 'etcd', endpoint: 'http://192.0.2.250:2379', reachable: true },
  lease: { subnet: '10.244.1.0/24', publicIP: '192.0.2.11' },
  network: { synced: true, peers, repairs: {} },
});

const peer = (n: number, state: 'programmed' | 'skipped' = 'programmed'): PeerStatus => ({
  subnet: `10.244.${n}.0/24`,
  publicIP: `192.0.2.${10 + n}`,
  state,
  problems: state === 'skipped' ? ['malformed VtepMAC'] : [],
  entries: state === 'skipped' ? 0 : 4,
});

describe('flannelctl probe', () => {
  it("reads iputils ping's summary", () => {
    const out = `--- 10.244.2.0 ping statistics ---\n3 packets transmitted, 2 received, 33.3333% packet loss, time 402ms\nrtt min/avg/max/mdev = 0.051/0.074/0.097/0.023 ms\n`;
    expect(parsePing(out)).toEqual({ sent: 3, received: 2, lossPercent: 33.3, rttAvgMs: 0.074, rttMaxMs: 0.097 });
    expect(parsePing('ping: connect: Network is unreachable')).toEqual({ sent: 0, received: 0, lossPercent: 100 });
  });

  it("pings a vxlan peer's overlay address and a host-gw peer's public IP; a skipped peer is not pinged", async () => {
    expect(probeTarget('vxlan', peer(2))).toEqual({ target: '10.244.2.0', via: 'overlay' });
    expect(probeTarget('host-gw', peer(2))).toEqual({ target: '192.0.2.12', via: 'underlay' });
    expect(probeTarget('wireguard', peer(2))).toEqual({ target: '10.244.2.0', via: 'overlay' });
    const pinged: string[] = [];
    const results = await probe(status([peer(2), peer(3, 'skipped')]), 2, async (t) => {
      pinged.push(t);
      return '2 packets transmitted, 2 received, 0% packet loss\nrtt min/avg/max/mdev = 0.1/0.2/0.3/0.0 ms';
    });
    expect(pinged).toEqual(['10.244.2.0']);
    expect(results[1]).toMatchObject({ peer: '10.244.3.0/24', skipped: 'malformed VtepMAC' });
  });
});

describe('flannelctl status', () => {
  it("lists each tunnel peer's endpoint, latest handshake and transfer", () => {
    const key = 'jTbrpui9F1lcWt18KRnDdKJRez/ckda5t/w1zTozCH4=';
    const s: StatusDocument = {
      ...status([peer(2)]),
      backend: 'wireguard',
      tunnels: [
        {
          device: 'flannel-wg',
          publicKey: key,
          subnets: ['10.244.2.0/24'],
          endpoint: '192.0.2.12:51820',
          latestHandshake: '2026-01-01T00:00:05.000Z',
          rxBytes: 1536,
          txBytes: 3 * 1024 ** 3,
        },
        { device: 'flannel-wg-v6', publicKey: key, subnets: ['fd00:10:244:2::/64'], rxBytes: 0, txBytes: 0 },
      ],
    };
    const text = renderStatus(s);
    expect(text.slice(text.indexOf('tunnel peers'))).toBe(
      [
        'tunnel peers (2):',
        '  DEVICE         SUBNETS             ENDPOINT          LATEST HANDSHAKE          RECEIVED  SENT      PUBLIC KEY',
        `  flannel-wg     10.244.2.0/24       192.0.2.12:51820  2026-01-01T00:00:05.000Z  1.50 KiB  3.00 GiB  ${key}`,
        `  flannel-wg-v6  fd00:10:244:2::/64  -                 never                     0 B       0 B       ${key}`,
        '',
      ].join('\n'),
    );
    expect(renderStatus(status([]))).not.toContain('tunnel peers');
    expect([bytes(1023), bytes(1024), bytes(5 * 1024 ** 2)]).toEqual(['1023 B', '1.00 KiB', '5.00 MiB']);
  });
});

describe('flannelctl diff', () => {
  it('groups by device and counts', () => {
    const text = renderDiff({
      supported: true,
      differs: true,
      missing: [{ kind: 'route', key: 'route 254 10.244.2.0/24', want: 'nhid 168034816', peer: '10.244.2.0/24 -', device: '(via nexthop)' }],
      stale: [{ kind: 'neigh', key: 'neigh 5 10.244.9.0', have: '02:00:00:00:00:09', device: 'flannel.1' }],
      different: [],
    });
    expect(text).toBe(
      [
        '(via nexthop):',
        '  missing   route 254 10.244.2.0/24: want nhid 168034816 (peer 10.244.2.0/24)',
        'flannel.1:',
        '  stale     neigh 5 10.244.9.0: holds 02:00:00:00:00:09, wanted by no lease',
        '1 missing, 1 stale, 0 different',
        '',
      ].join('\n'),
    );
  });
});

describe('flannelctl diagram', () => {
  it('draws every peer, in text and SVG, and escapes what it writes into the SVG', () => {
    const s = status([peer(2), peer(3, 'skipped')]);
    s.lease!.subnet = '10.244.1.0/24 <&>';
    const text = textDiagram(s);
    expect(text).toContain('[ 10.244.2.0/24 @ 192.0.2.12 ] programmed');
    expect(text).toContain('· · ·▶ [ 10.244.3.0/24 @ 192.0.2.13 ] skipped, skipped (malformed VtepMAC)');
    const svg = svgDiagram(s);
    expect(svg).toContain('id="peer-10.244.2.0/24"');
    expect(svg).toContain('id="peer-10.244.3.0/24"');
    expect(svg).toContain('10.244.1.0/24 &lt;&amp;&gt;');
    expect(svg).not.toContain('<&>');
  });
});

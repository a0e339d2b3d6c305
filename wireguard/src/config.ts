import { backendFieldParsers, foldKeys, UserError, type Logger } from '@flannel-ts/core';
import { WgSecret } from '@flannel-ts/core/netlink';

/**
 * How the two address families travel: `separate` (the default) gives each its own device (flannel-wg for
 * IPv4 pods over the IPv4 underlay, flannel-wg-v6 for IPv6 pods over the IPv6 underlay); the others use one
 * device, flannel-wg, for both, reaching a peer over IPv4 (`ipv4`), IPv6 (`ipv6`), or whichever is more
 * likely to get through (`auto`).
 */
export type WireguardMode = 'separate' | 'auto' | 'ipv4' | 'ipv6';
export const MODES: readonly WireguardMode[] = ['separate', 'auto', 'ipv4', 'ipv6'];

/** Go flannel's defaults. */
export const DEFAULT_LISTEN_PORT = 51820;
export const DEFAULT_LISTEN_PORT_V6 = 51821;

/** net-conf `Backend` keys of the wireguard backend (Go flannel's names and defaults). */
export interface WireguardConfig {
  listenPort: number;
  listenPortV6: number;
  /** Absent: the device MTUs follow the underlay (see mtu.ts). */
  mtu?: number;
  /** A pre-shared key every peer shares, for a post-quantum layer on top of the keys. Never logged. */
  psk?: WgSecret;
  /** Seconds between keepalives to each peer; 0 (the default) is off. */
  persistentKeepalive: number;
  mode: WireguardMode;
}

const { uint } = backendFieldParsers('wireguard');

const FIELDS = ['Type', 'ListenPort', 'ListenPortV6', 'MTU', 'PSK', 'PersistentKeepaliveInterval', 'Mode'] as const;

export function parseWireguardConfig(backend: Record<string, unknown>, logger?: Logger): WireguardConfig {
  const f = foldKeys(backend, FIELDS);
  for (const key of f.unknown ?? []) logger?.warn({ field: `Backend.${key}` }, 'unknown wireguard backend field, ignored');
  const cfg: WireguardConfig = {
    listenPort: uint('ListenPort', f.ListenPort, DEFAULT_LISTEN_PORT, 1, 65535),
    listenPortV6: uint('ListenPortV6', f.ListenPortV6, DEFAULT_LISTEN_PORT_V6, 1, 65535),
    persistentKeepalive: uint('PersistentKeepaliveInterval', f.PersistentKeepaliveInterval, 0, 0, 65535),
    mode: mode(f.Mode),
  };
  // 1280 (IPv6's minimum) plus the 80 bytes of WireGuard over IPv6: a smaller MTU cannot carry IPv6 pods.
  if (f.MTU !== undefined && f.MTU !== 0) cfg.mtu = uint('MTU', f.MTU, 0, 1280 + 80, 65535);
  if (f.PSK !== undefined && f.PSK !== null && f.PSK !== '') cfg.psk = psk(f.PSK);
  return cfg;
}

function mode(value: unknown): WireguardMode {
  if (value === undefined || value === null || value === '') return 'separate';
  if (typeof value === 'string' && (MODES as readonly string[]).includes(value)) return value as WireguardMode;
  // Go flannel: "No valid Mode configured".
  throw new UserError('Backend.Mode', `no valid Mode configured: ${JSON.stringify(value)}`, `use one of ${MODES.map((m) => `"${m}"`).join(', ')}`);
}

/** The PSK, checked without ever quoting it (it is a secret). */
function psk(value: unknown): WgSecret {
  try {
    if (typeof value !== 'string') throw new Error('not a string');
    return WgSecret.fromBase64(value);
  } catch {
    throw new UserError(
      'Backend.PSK',
      `error decoding wireguard backend config: the PSK is not a WireGuard key (44 characters of base64, 32 bytes)`,
      'make one with `wg genpsk`, or leave PSK out',
    );
  }
}

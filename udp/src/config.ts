import { foldKeys, UserError, type Logger } from '@flannel-ts/core';

/** Go flannel's udp port. */
export const DEFAULT_UDP_PORT = 8285;

/** net-conf `Backend` keys of the udp backend (Go flannel's: only `Port`). */
export interface UdpConfig {
  port: number;
}

const FIELDS = ['Type', 'Port'] as const;

export function parseUdpConfig(backend: Record<string, unknown>, logger?: Logger): UdpConfig {
  const f = foldKeys(backend, FIELDS);
  for (const key of f.unknown ?? []) logger?.warn({ field: `Backend.${key}` }, 'unknown udp backend field, ignored');
  const port = f.Port;
  if (port === undefined || port === null || port === 0) return { port: DEFAULT_UDP_PORT };
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new UserError(
      'Backend.Port',
      `error decoding UDP backend config: ${JSON.stringify(port)} is not a port number from 1 to 65535`,
      `set Port to the same number on every node, or leave it out for ${DEFAULT_UDP_PORT}`,
    );
  }
  return { port };
}

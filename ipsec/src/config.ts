import { backendFieldParsers, foldKeys, UserError, type Logger } from '@flannel-ts/core';
import { IpsecSecret } from './secret.js';

/** Go flannel's rule: a PSK of at least 96 characters (its docs suggest 48 random bytes, hex encoded). */
export const MIN_PSK_LENGTH = 96;
/** Go flannel's default child SA proposal. */
export const DEFAULT_ESP_PROPOSAL = 'aes128gcm16-sha256-prfsha256-ecp256';

/** net-conf `Backend` keys of the ipsec backend (Go flannel's names and defaults). */
export interface IpsecConfig {
  /** The pre-shared key every node authenticates IKE with. Never logged: see IpsecSecret. */
  psk: IpsecSecret;
  /** Wrap ESP in UDP 4500 even without a NAT (charon's `encap`), for underlays that drop protocol 50. */
  udpEncap: boolean;
  espProposal: string;
}

const FIELDS = ['Type', 'PSK', 'UDPEncap', 'ESPProposal'] as const;

export function parseIpsecConfig(backend: Record<string, unknown>, logger?: Logger): IpsecConfig {
  const f = foldKeys(backend, FIELDS);
  for (const key of f.unknown ?? []) logger?.warn({ field: `Backend.${key}` }, 'unknown ipsec backend field, ignored');
  return { psk: psk(f.PSK), udpEncap: backendFieldParsers('ipsec').bool('UDPEncap', f.UDPEncap), espProposal: proposal(f.ESPProposal) };
}

/** The PSK, checked without ever quoting it: errors name its length and the minimum, nothing of its text. */
function psk(value: unknown): IpsecSecret {
  if (value === undefined || value === null || value === '') {
    throw new UserError(
      'Backend.PSK',
      `config error, the ipsec backend needs a pre-shared key of at least ${MIN_PSK_LENGTH} characters`,
      'make one with `openssl rand -hex 48` and set it as Backend.PSK on every node',
    );
  }
  if (typeof value !== 'string') {
    throw new UserError('Backend.PSK', `config error, the PSK must be a string (it is a ${Array.isArray(value) ? 'list' : typeof value})`, 'quote it');
  }
  if (value.length < MIN_PSK_LENGTH) {
    // Go flannel: "config error, password is too short". Its length is no secret worth keeping; its text is.
    throw new UserError(
      'Backend.PSK',
      `config error, password is too short: ${value.length} characters, at least ${MIN_PSK_LENGTH} are needed`,
      'make one with `openssl rand -hex 48` (96 characters)',
    );
  }
  return new IpsecSecret(value);
}

// charon's proposal syntax: algorithm keywords joined by '-', several proposals by ','.
const PROPOSAL = /^[a-z0-9]+(?:[-_][a-z0-9]+)*(?:,[a-z0-9]+(?:[-_][a-z0-9]+)*)*$/;

function proposal(value: unknown): string {
  if (value === undefined || value === null || value === '') return DEFAULT_ESP_PROPOSAL;
  if (typeof value === 'string' && PROPOSAL.test(value)) return value;
  throw new UserError(
    'Backend.ESPProposal',
    `error decoding ipsec backend config: ${JSON.stringify(value)} is not a strongSwan ESP proposal`,
    `use charon's syntax (e.g. "${DEFAULT_ESP_PROPOSAL}"), or leave it out`,
  );
}

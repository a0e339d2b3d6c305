import { foldKeys, UserError, type Logger } from '@flannel-ts/core';

/** How long one command may run before it is killed, unless `CommandTimeout` says otherwise. */
export const DEFAULT_COMMAND_TIMEOUT_S = 30;

/** net-conf `Backend` keys of the extension backend: Go flannel's four commands, and a timeout. */
export interface ExtensionConfig {
  /** Run before the lease is taken; its output (trimmed) becomes the lease's BackendData, as a JSON string. */
  preStartupCommand?: string;
  /** Run once the lease is ours, with NETWORK, SUBNET, IPV6SUBNET, PUBLIC_IP and PUBLIC_IPV6. */
  postStartupCommand?: string;
  /** Run for each peer that appears (or changes), with SUBNET and PUBLIC_IP, its BackendData on stdin. */
  subnetAddCommand?: string;
  /** Run for each peer that goes away, likewise. */
  subnetRemoveCommand?: string;
  /** Seconds one command may run (flannel-ts only; Go waits forever). */
  commandTimeoutS: number;
}

const COMMANDS = ['PreStartupCommand', 'PostStartupCommand', 'SubnetAddCommand', 'SubnetRemoveCommand'] as const;
const FIELDS = ['Type', ...COMMANDS, 'CommandTimeout', 'ShutdownCommand'] as const;

export function parseExtensionConfig(backend: Record<string, unknown>, logger?: Logger): ExtensionConfig {
  const f = foldKeys(backend, FIELDS);
  for (const key of f.unknown ?? []) logger?.warn({ field: `Backend.${key}` }, 'unknown extension backend field, ignored');
  // Go flannel's sample config shows it, but no version ever ran it.
  if (f.ShutdownCommand !== undefined) logger?.warn({ field: 'Backend.ShutdownCommand' }, 'ShutdownCommand is not run (nor is it by Go flannel); ignored');
  const cfg: ExtensionConfig = { commandTimeoutS: timeout(f.CommandTimeout) };
  const set = (key: (typeof COMMANDS)[number], prop: 'preStartupCommand' | 'postStartupCommand' | 'subnetAddCommand' | 'subnetRemoveCommand') => {
    const v = f[key];
    if (v === undefined || v === null || v === '') return;
    if (typeof v !== 'string') {
      throw new UserError(`Backend.${key}`, `error decoding backend config: ${JSON.stringify(v)} is not a string`, 'write the command as one string');
    }
    if (v.trim() === '') return;
    cfg[prop] = v;
  };
  set('PreStartupCommand', 'preStartupCommand');
  set('PostStartupCommand', 'postStartupCommand');
  set('SubnetAddCommand', 'subnetAddCommand');
  set('SubnetRemoveCommand', 'subnetRemoveCommand');
  return cfg;
}

function timeout(value: unknown): number {
  if (value === undefined || value === null) return DEFAULT_COMMAND_TIMEOUT_S;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 3600) {
    throw new UserError(
      'Backend.CommandTimeout',
      `${JSON.stringify(value)} is not a whole number of seconds from 1 to 3600`,
      `leave it out for ${DEFAULT_COMMAND_TIMEOUT_S} s, or give the seconds one command may take`,
    );
  }
  return value;
}

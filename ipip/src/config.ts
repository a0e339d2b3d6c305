import { foldKeys, UserError, type Logger } from '@flannel-ts/core';

export interface IpipConfig {
  directRouting: boolean;
}

export function parseIpipConfig(backend: Record<string, unknown>, logger?: Logger): IpipConfig {
  const f = foldKeys(backend, ['Type', 'DirectRouting'] as const);
  for (const key of f.unknown ?? []) logger?.warn({ field: `Backend.${key}` }, 'unknown ipip backend field, ignored');
  const dr = f.DirectRouting ?? false;
  if (typeof dr !== 'boolean') {
    throw new UserError(
      'Backend.DirectRouting',
      `error decoding IPIP backend config: ${JSON.stringify(dr)} is not true or false`,
      'write DirectRouting: true or false',
    );
  }
  return { directRouting: dr };
}

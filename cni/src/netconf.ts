import { CNI_ERR, CniError } from './cni-error.js';

export const DEFAULT_SUBNET_FILE = '/run/flannel/subnet.env';
export const DEFAULT_DATA_DIR = '/var/lib/cni/flannel';

/** The flannel plugin's network config (facts §8.1). */
export interface FlannelNetConf {
  cniVersion: string;
  name: string;
  subnetFile: string;
  dataDir: string;
  delegate: Record<string, unknown>;
  ipam?: Record<string, unknown>;
  runtimeConfig?: unknown;
  prevResult?: unknown;
  raw: Record<string, unknown>;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function parseNetConf(stdin: string): FlannelNetConf {
  let raw: unknown;
  try {
    raw = JSON.parse(stdin);
  } catch (err) {
    throw new CniError(CNI_ERR.decode, 'the network configuration on stdin is not valid JSON', (err as Error).message);
  }
  if (!isObject(raw)) throw new CniError(CNI_ERR.decode, 'the network configuration on stdin must be a JSON object');
  const str = (key: string, dflt?: string): string => {
    const v = raw[key] ?? dflt;
    if (typeof v !== 'string' || v === '') throw new CniError(CNI_ERR.invalidConfig, `"${key}" must be a non-empty string`, `set "${key}" in the flannel network config`);
    return v;
  };
  const delegate = raw.delegate ?? {};
  if (!isObject(delegate)) throw new CniError(CNI_ERR.invalidConfig, '"delegate" must be an object', 'e.g. "delegate": {"hairpinMode": true, "isDefaultGateway": true}');
  if (raw.ipam !== undefined && !isObject(raw.ipam)) throw new CniError(CNI_ERR.invalidConfig, '"ipam" must be an object');
  const conf: FlannelNetConf = {
    cniVersion: typeof raw.cniVersion === 'string' ? raw.cniVersion : '0.3.1',
    name: str('name'),
    subnetFile: str('subnetFile', DEFAULT_SUBNET_FILE),
    dataDir: str('dataDir', DEFAULT_DATA_DIR),
    delegate,
    raw,
  };
  if (isObject(raw.ipam)) conf.ipam = raw.ipam;
  if (raw.runtimeConfig !== undefined) conf.runtimeConfig = raw.runtimeConfig;
  if (raw.prevResult !== undefined) conf.prevResult = raw.prevResult;
  return conf;
}

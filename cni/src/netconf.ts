import { isAbsolute } from 'node:path';
import { IPNet } from '@flannel-ts/core/ip';
import { CNI_ERR, CniError } from './cni-error.js';
import { isObject, type Json } from './json.js';
import { CNI_NAME } from './runtime-env.js';
import { isSupported, SUPPORTED_VERSIONS } from './versions.js';

export const DEFAULT_SUBNET_FILE = '/run/flannel/subnet.env';
export const DEFAULT_DATA_DIR = '/var/lib/cni/flannel';

/** What every command needs: the version to answer in, the network's name and where its state lives. */
export interface BaseNetConf {
  cniVersion: string;
  name: string;
  dataDir: string;
  raw: Json;
}

/** The flannel plugin's network config (facts §8.1), as ADD and STATUS need it. */
export interface FlannelNetConf extends BaseNetConf {
  subnetFile: string;
  delegate: Json;
  ipam?: Json;
  runtimeConfig?: Json;
}

const invalid = (msg: string, details = '') => new CniError(CNI_ERR.invalidConfig, msg, details);

/** A plugin `type` is a file name looked up in CNI_PATH, never a path (CVE-2021-20206). */
export function validatePluginName(name: unknown, field: string): string {
  if (typeof name !== 'string' || name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
    throw invalid(
      `"${field}" must be a plugin's file name, not ${JSON.stringify(name)}`,
      'a plain name such as "bridge", found in one of CNI_PATH\'s directories',
    );
  }
  return name;
}

export function decodeNetConf(stdin: string): Json {
  let raw: unknown;
  try {
    raw = JSON.parse(stdin);
  } catch (err) {
    throw new CniError(CNI_ERR.decode, 'the network configuration on stdin is not valid JSON', (err as Error).message);
  }
  if (!isObject(raw)) throw new CniError(CNI_ERR.decode, 'the network configuration on stdin must be a JSON object');
  return raw;
}

/**
 * The part of the config every command checks. A missing or empty cniVersion means 0.1.0, as in Go's skel
 * (libcni passes "" for a conflist without one); anything else must be a version we speak.
 */
export function parseBaseNetConf(raw: Json): BaseNetConf {
  const v = raw.cniVersion === undefined ? '' : raw.cniVersion;
  if (typeof v !== 'string')
    throw new CniError(CNI_ERR.incompatibleVersion, `"cniVersion" must be a string, not ${JSON.stringify(v)}`, `one of ${SUPPORTED_VERSIONS.join(', ')}`);
  const cniVersion = v === '' ? '0.1.0' : v;
  if (!isSupported(cniVersion))
    throw new CniError(CNI_ERR.incompatibleVersion, `cniVersion ${JSON.stringify(v)} is not supported`, `flannel supports ${SUPPORTED_VERSIONS.join(', ')}`);
  if (typeof raw.name !== 'string' || raw.name === '') throw invalid('missing network name', 'set "name" in the network config');
  if (!CNI_NAME.test(raw.name)) throw invalid('invalid characters found in network name', `${JSON.stringify(raw.name)} must match ${CNI_NAME.source}`);
  return { cniVersion, name: raw.name, dataDir: absolutePath(raw, 'dataDir', DEFAULT_DATA_DIR), raw };
}

/** The whole config, checked as ADD needs it; every check here comes before anything touches the disk. */
export function parseNetConf(raw: Json): FlannelNetConf {
  const conf: FlannelNetConf = { ...parseBaseNetConf(raw), subnetFile: absolutePath(raw, 'subnetFile', DEFAULT_SUBNET_FILE), delegate: {} };
  const delegate = raw.delegate ?? {};
  if (!isObject(delegate)) throw invalid('"delegate" must be an object', 'e.g. "delegate": {"hairpinMode": true, "isDefaultGateway": true}');
  if ('name' in delegate) throw invalid('"delegate" must not contain "name": it\'ll be set by flannel', 'remove delegate.name; the network name is used');
  if ('ipam' in delegate)
    throw invalid('"delegate" must not contain "ipam": flannel builds it from subnet.env', 'move IPAM options to the top-level "ipam" object');
  if (delegate.type !== undefined) validatePluginName(delegate.type, 'delegate.type');
  if (delegate.mtu !== undefined && !(Number.isInteger(delegate.mtu) && (delegate.mtu as number) >= 68 && (delegate.mtu as number) <= 65535)) {
    throw invalid(`"delegate.mtu" must be a whole number from 68 to 65535, not ${JSON.stringify(delegate.mtu)}`);
  }
  conf.delegate = delegate;
  if (raw.ipam !== undefined) conf.ipam = parseIpam(raw.ipam);
  if (raw.runtimeConfig !== undefined) {
    if (!isObject(raw.runtimeConfig)) throw invalid('"runtimeConfig" must be an object', 'the runtime fills it from the plugins\' "capabilities"');
    conf.runtimeConfig = raw.runtimeConfig;
  }
  return conf;
}

function parseIpam(ipam: unknown): Json {
  if (!isObject(ipam)) throw invalid('"ipam" must be an object');
  if (ipam.type !== undefined) validatePluginName(ipam.type, 'ipam.type');
  if (ipam.routes !== undefined) {
    if (!Array.isArray(ipam.routes)) throw invalid('"ipam.routes" must be a list of {"dst": CIDR, "gw"?: IP}');
    for (const route of ipam.routes as unknown[]) {
      if (!isObject(route) || typeof route.dst !== 'string' || !IPNet.tryParse(route.dst) || (route.gw !== undefined && typeof route.gw !== 'string')) {
        throw invalid('every entry of "ipam.routes" must be {"dst": CIDR, "gw"?: IP}', JSON.stringify(route));
      }
    }
  }
  return ipam;
}

function absolutePath(raw: Json, key: string, dflt: string): string {
  const v = raw[key] ?? dflt;
  if (typeof v !== 'string' || !isAbsolute(v)) throw invalid(`"${key}" must be an absolute path`, `not ${JSON.stringify(v)}`);
  return v;
}

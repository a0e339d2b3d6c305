import type { Logger } from '../contracts/logger.js';
import type { NetworkConfig } from '../contracts/network-config.js';
import { UserError } from '../errors/user-error.js';
import { IP } from '../ip/ip.js';
import { IPNet } from '../ip/ipnet.js';
import { foldKeys } from './json-fields.js';
import { parseOrderedJson } from './ordered-json.js';

/**
 * The backend used when net-conf has no `Backend`. Go flannel falls back to `udp` although its docs say
 * `vxlan`; we follow the docs (Go's code falls back to udp), since vxlan is what every manifest uses and udp is the slowest.
 */
export const DEFAULT_BACKEND_TYPE = 'vxlan';

const FIELDS = [
  'EnableIPv4',
  'EnableIPv6',
  'EnableNFTables',
  'Network',
  'IPv6Network',
  'SubnetMin',
  'SubnetMax',
  'IPv6SubnetMin',
  'IPv6SubnetMax',
  'SubnetLen',
  'IPv6SubnetLen',
  'Backend',
] as const;

export interface ParseOptions {
  /** Told about keys that match no field (Go ignores them silently; a typo deserves a warning). */
  onUnknownField?: (key: string) => void;
}

/** Parses net-conf JSON without validating it (the kube subnet manager stops here, as Go flannel does). */
export function parseNetConfig(text: string, opts: ParseOptions = {}): NetworkConfig {
  let raw: unknown;
  try {
    // A UTF-8 byte-order mark is allowed before JSON text (RFC 8259 lets parsers ignore it).
    raw = parseOrderedJson(text.startsWith('\uFEFF') ? text.slice(1) : text);
  } catch (err) {
    throw new UserError('net-conf', `not valid JSON (${(err as Error).message})`, 'fix the JSON syntax');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new UserError('net-conf', 'must be a JSON object', 'write it as {"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}');
  }
  const f = foldKeys(raw as Record<string, unknown>, FIELDS);
  for (const key of f.unknown ?? []) opts.onUnknownField?.(key);

  const backend = parseBackend(f.Backend);
  return {
    enableIPv4: bool('EnableIPv4', f.EnableIPv4, true),
    enableIPv6: bool('EnableIPv6', f.EnableIPv6, false),
    enableNFTables: bool('EnableNFTables', f.EnableNFTables, false),
    network: cidr('Network', f.Network, 4, '"10.244.0.0/16"'),
    ipv6Network: cidr('IPv6Network', f.IPv6Network, 6, '"fd00:10:244::/56"'),
    subnetMin: ip('SubnetMin', f.SubnetMin, 4),
    subnetMax: ip('SubnetMax', f.SubnetMax, 4),
    ipv6SubnetMin: ip('IPv6SubnetMin', f.IPv6SubnetMin, 6),
    ipv6SubnetMax: ip('IPv6SubnetMax', f.IPv6SubnetMax, 6),
    subnetLen: uint('SubnetLen', f.SubnetLen),
    ipv6SubnetLen: uint('IPv6SubnetLen', f.IPv6SubnetLen),
    backendType: backend.type,
    backend: backend.raw,
  };
}

/** Parses, then validates and fills in defaults: what the etcd and embedded stores use. */
export function loadNetConfig(text: string, opts: ParseOptions = {}): NetworkConfig {
  return checkNetworkConfig(parseNetConfig(text, opts));
}

/**
 * Flannel's CheckNetworkConfig: default the subnet length and the allocation range, and reject a
 * network that cannot hold four subnets. Returns a new object; the input is left as it was.
 */
export function checkNetworkConfig(input: NetworkConfig): NetworkConfig {
  const cfg = { ...input };
  if (!cfg.enableIPv4 && !cfg.enableIPv6) {
    throw new UserError('EnableIPv4', 'IPv4 and IPv6 are both disabled', 'enable at least one of EnableIPv4 and EnableIPv6');
  }
  if (cfg.enableIPv4) {
    const r = checkFamily(cfg.network, cfg.subnetLen, cfg.subnetMin, cfg.subnetMax, V4_RULES);
    Object.assign(cfg, { subnetLen: r.len, subnetMin: r.min, subnetMax: r.max });
  }
  if (cfg.enableIPv6) {
    const r = checkFamily(cfg.ipv6Network, cfg.ipv6SubnetLen, cfg.ipv6SubnetMin, cfg.ipv6SubnetMax, V6_RULES);
    Object.assign(cfg, { ipv6SubnetLen: r.len, ipv6SubnetMin: r.min, ipv6SubnetMax: r.max });
  }
  return cfg;
}

interface FamilyRules {
  net: string;
  len: string;
  min: string;
  max: string;
  /** Largest subnet length allowed (/30 leaves two usable addresses; /126 likewise). */
  maxLen: number;
  /** Largest network prefix for which a default length is chosen. */
  maxDefaultPrefix: number;
  /** Up to this prefix the default subnet is this fixed size. */
  fixedDefault: { upTo: number; len: number };
  example: string;
}

const V4_RULES: FamilyRules = {
  net: 'Network',
  len: 'SubnetLen',
  min: 'SubnetMin',
  max: 'SubnetMax',
  maxLen: 30,
  maxDefaultPrefix: 28,
  fixedDefault: { upTo: 22, len: 24 },
  example: '"Network": "10.244.0.0/16"',
};

const V6_RULES: FamilyRules = {
  net: 'IPv6Network',
  len: 'IPv6SubnetLen',
  min: 'IPv6SubnetMin',
  max: 'IPv6SubnetMax',
  maxLen: 126,
  maxDefaultPrefix: 124,
  fixedDefault: { upTo: 62, len: 64 },
  example: '"IPv6Network": "fd00:10:244::/56"',
};

function checkFamily(network: IPNet | undefined, givenLen: number, givenMin: IP | undefined, givenMax: IP | undefined, r: FamilyRules) {
  if (!network) {
    throw new UserError(r.net, `please define a correct ${r.net} parameter in the flannel config`, `add ${r.example}`);
  }
  let len = givenLen;
  if (len > 0) {
    if (len > r.maxLen) {
      throw new UserError(r.len, `SubnetLen must be less than /${r.maxLen + 1}`, `use a ${r.len} between ${network.prefixLen + 2} and ${r.maxLen}`);
    }
    if (len < network.prefixLen + 2) {
      throw new UserError(
        r.len,
        `network must be able to accommodate at least four subnets (${r.net} is /${network.prefixLen}, ${r.len} is /${len})`,
        `use a ${r.len} of at least ${network.prefixLen + 2}, or a larger ${r.net}`,
      );
    }
  } else if (network.prefixLen > r.maxDefaultPrefix) {
    const what = r.net === 'Network' ? 'network' : r.net;
    throw new UserError(
      r.net,
      `${what} is too small. Minimum useful network prefix is /${r.maxDefaultPrefix}`,
      `use a /${r.maxDefaultPrefix} or larger ${r.net}`,
    );
  } else {
    len = network.prefixLen <= r.fixedDefault.upTo ? r.fixedDefault.len : network.prefixLen + 2;
  }

  const subnetSize = 1n << BigInt(network.ip.bits - len);
  const min = givenMin ?? network.ip.add(subnetSize);
  const max = givenMax ?? IP.of(network.family, network.end - subnetSize);
  checkBound(r.min, min, network, len, r);
  checkBound(r.max, max, network, len, r);
  if (min.compare(max) > 0) {
    throw new UserError(r.min, `${r.min} ${min} is after ${r.max} ${max}`, `swap them or widen the range`);
  }
  return { len, min, max };
}

function checkBound(field: string, value: IP, network: IPNet, len: number, r: FamilyRules): void {
  if (!network.contains(value)) {
    throw new UserError(field, `${field} is not in the range of the ${r.net}`, `pick an address inside ${network}`);
  }
  if (!new IPNet(value, len).ip.equals(value)) {
    throw new UserError(field, `${field} is not on a SubnetLen boundary: ${value}`, `use the first address of a /${len} subnet`);
  }
}

function parseBackend(value: unknown): { type: string; raw: Record<string, unknown> } {
  if (value === undefined || value === null) return { type: DEFAULT_BACKEND_TYPE, raw: {} };
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new UserError('Backend', 'error decoding Backend property of config: must be a JSON object', 'write it as {"Type": "vxlan"}');
  }
  const raw = value as Record<string, unknown>;
  if (Object.keys(raw).length === 0) return { type: DEFAULT_BACKEND_TYPE, raw };
  const type = foldKeys(raw, ['Type'] as const).Type;
  if (type === undefined || type === '') {
    throw new UserError('Backend.Type', 'missing', 'name the backend, e.g. "Type": "vxlan" (or host-gw, ipip, udp, ipsec, wireguard, or a plugin package)');
  }
  if (typeof type !== 'string') throw new UserError('Backend.Type', `must be a string, got ${JSON.stringify(type)}`, 'e.g. "Type": "vxlan"');
  return { type, raw };
}

function bool(field: string, value: unknown, dflt: boolean): boolean {
  if (value === undefined || value === null) return dflt;
  if (typeof value !== 'boolean') throw new UserError(field, `must be true or false, got ${JSON.stringify(value)}`, `write "${field}": ${dflt}`);
  return value;
}

function uint(field: string, value: unknown): number {
  if (value === undefined || value === null) return 0;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new UserError(field, `must be a non-negative whole number, got ${JSON.stringify(value)}`, `write e.g. "${field}": 24`);
  }
  return value;
}

function cidr(field: string, value: unknown, family: 4 | 6, example: string): IPNet | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const net = typeof value === 'string' ? IPNet.tryParse(value) : undefined;
  if (!net || net.family !== family) {
    throw new UserError(field, `${JSON.stringify(value)} is not an IPv${family} CIDR`, `write e.g. "${field}": ${example}`);
  }
  return net;
}

function ip(field: string, value: unknown, family: 4 | 6): IP | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const addr = typeof value === 'string' ? IP.tryParse(value) : undefined;
  if (!addr || addr.family !== family) {
    throw new UserError(
      field,
      `${JSON.stringify(value)} is not an IPv${family} address`,
      `write a plain address such as ${family === 4 ? '"10.244.1.0"' : '"fd00:10:244:1::"'}`,
    );
  }
  return addr;
}

/**
 * net-conf as `parse` reads it, parsed once per text: flanneld asks its store for the config every few
 * seconds (its store monitor), and an unknown field is warned about once, not on every probe. A text that
 * fails keeps its error. Each answer is a copy whose top-level fields are the caller's to change; the
 * Backend object is shared, and no one changes it.
 */
export class NetConfigReader {
  private last: { text: string; config?: NetworkConfig; error?: unknown } | undefined;

  constructor(
    private readonly parse: (text: string, opts: ParseOptions) => NetworkConfig,
    private readonly logger: Logger,
  ) {}

  read(text: string): NetworkConfig {
    if (this.last?.text !== text) {
      try {
        this.last = {
          text,
          config: this.parse(text, { onUnknownField: (field) => this.logger.warn({ field }, 'unknown field in the network config, ignored') }),
        };
      } catch (err) {
        this.last = { text, error: err };
      }
    }
    if (!this.last.config) throw this.last.error;
    return { ...this.last.config };
  }
}

import type { Level } from 'pino';
import { IP, UserError } from '@flannel-ts/core';
import { DEFAULT_PLUGIN_DIRS } from '@flannel-ts/backends';
import {
  defaultLogFormat,
  kubeAnnotations,
  LOG_FORMATS,
  LOG_LEVELS,
  type EtcdConfig,
  type KubeStoreOptions,
  type LogFormat,
  type StoreKind,
} from '@flannel-ts/core/internal';
import type { FlagValues } from './flags.js';

/** flanneld's settings, checked and typed. */
export interface FlanneldOptions {
  store: StoreKind;
  etcd: EtcdConfig;
  /** --kube-api-url, --kubeconfig-file, --kube-annotation-prefix, --set-node-network-unavailable. */
  kube: KubeStoreOptions;
  embeddedStorePath: string;
  netConfigPath: string;
  /** Where plugins are looked for, in order (--plugin-dir, else the defaults). */
  pluginDirs: string[];
  ifaces: string[];
  ifaceRegexes: RegExp[];
  ifaceCanReach?: IP;
  publicIP?: IP;
  publicIPv6?: IP;
  subnetFile: string;
  renewMarginMinutes: number;
  ipMasq: boolean;
  ipMasqFullyRandomDisable: boolean;
  iptablesForwardRules: boolean;
  iptablesResyncSeconds: number;
  /** -kernel-resync: the backend engine's periodic full comparison with the kernel; 0 leaves it to the backend. */
  kernelResyncSeconds: number;
  /** --cleanup: remove what flanneld installs on this node, then exit. */
  cleanup: boolean;
  /** --dry-run, --yes: how --cleanup goes about it. */
  dryRun: boolean;
  yes: boolean;
  healthzIP: string;
  healthzPort: number;
  logLevel: Level;
  logFormat: LogFormat;
}

export const FlanneldOptions = Symbol.for('flannel-ts.FlanneldOptions');

export function toOptions(v: FlagValues): FlanneldOptions {
  const str = (name: string) => v[name] as string;
  if (v['kube-subnet-mgr'] && v['embedded-subnet-mgr']) {
    throw new UserError('-embedded-subnet-mgr', 'cannot be combined with -kube-subnet-mgr', 'pick one subnet manager');
  }
  const margin = v['subnet-lease-renew-margin'] as number;
  if (margin < 1 || margin > 1439) {
    throw new UserError('-subnet-lease-renew-margin', 'Invalid subnet-lease-renew-margin option, out of acceptable range', 'give minutes from 1 to 1439');
  }
  const resync = v['iptables-resync'] as number;
  if (resync < 1) throw new UserError('-iptables-resync', `${resync} is not a period`, 'give seconds, 1 or more');
  const kernelResync = v['kernel-resync'] as number;
  if (kernelResync < 0) throw new UserError('-kernel-resync', `${kernelResync} is not a period`, "give seconds, 1 or more (0: the backend's own)");
  if (!IP.tryParse(str('healthz-ip'))) {
    throw new UserError('-healthz-ip', `${JSON.stringify(str('healthz-ip'))} is not an IP address`, 'give an address of this host, e.g. 0.0.0.0 or 127.0.0.1');
  }
  const port = v['healthz-port'] as number;
  if (port < 0 || port > 65535) throw new UserError('-healthz-port', `${port} is not a port`, 'give 0 (disabled) to 65535');
  const opts: FlanneldOptions = {
    store: v['kube-subnet-mgr'] ? 'kube' : v['embedded-subnet-mgr'] ? 'embedded' : 'etcd',
    etcd: {
      endpoints: str('etcd-endpoints'),
      prefix: str('etcd-prefix').replace(/\/+$/, ''),
      keyfile: str('etcd-keyfile'),
      certfile: str('etcd-certfile'),
      cafile: str('etcd-cafile'),
      username: str('etcd-username'),
      password: str('etcd-password'),
    },
    kube: {
      apiUrl: str('kube-api-url'),
      kubeconfigFile: str('kubeconfig-file'),
      annotationPrefix: str('kube-annotation-prefix'),
      setNodeNetworkUnavailable: v['set-node-network-unavailable'] as boolean,
    },
    embeddedStorePath: str('embedded-store-path'),
    netConfigPath: str('net-config-path'),
    pluginDirs: (v['plugin-dir'] as string[]).length > 0 ? (v['plugin-dir'] as string[]) : [...DEFAULT_PLUGIN_DIRS],
    ifaces: (v.iface as string[]).map((s) => s.trim()).filter(Boolean),
    ifaceRegexes: (v['iface-regex'] as string[]).map((re) => compileRegex(re)),
    subnetFile: str('subnet-file'),
    renewMarginMinutes: margin,
    ipMasq: v['ip-masq'] as boolean,
    ipMasqFullyRandomDisable: v['ip-masq-fully-random-disable'] as boolean,
    iptablesForwardRules: v['iptables-forward-rules'] as boolean,
    iptablesResyncSeconds: resync,
    kernelResyncSeconds: kernelResync,
    cleanup: v.cleanup as boolean,
    dryRun: v['dry-run'] as boolean,
    yes: v.yes as boolean,
    healthzIP: str('healthz-ip'),
    healthzPort: port,
    logLevel: logLevel(str('log-level'), v.v as number),
    logFormat: logFormat(str('log-format')),
  };
  if ((opts.dryRun || opts.yes) && !opts.cleanup) {
    throw new UserError(opts.dryRun ? '-dry-run' : '-yes', 'only means something with -cleanup', 'add -cleanup, or leave it out');
  }
  if (opts.store === 'kube') kubeAnnotations(opts.kube.annotationPrefix);
  const canReach = ip('-iface-can-reach', str('iface-can-reach'));
  if (canReach) opts.ifaceCanReach = canReach;
  const publicIP = ip('-public-ip', str('public-ip'), 4);
  if (publicIP) opts.publicIP = publicIP;
  const publicIPv6 = ip('-public-ipv6', str('public-ipv6'), 6);
  if (publicIPv6) opts.publicIPv6 = publicIPv6;
  return opts;
}

function ip(flag: string, text: string, family?: 4 | 6): IP | undefined {
  if (!text) return undefined;
  const parsed = IP.tryParse(text);
  if (!parsed || (family && parsed.family !== family)) {
    throw new UserError(
      flag,
      `invalid public IP address ${JSON.stringify(text)}`.replace('public ', flag === '-iface-can-reach' ? '' : 'public '),
      `give an IPv${family ?? '4 or IPv6'} address`,
    );
  }
  return parsed;
}

function compileRegex(text: string): RegExp {
  try {
    return new RegExp(text);
  } catch (err) {
    throw new UserError('-iface-regex', `${JSON.stringify(text)} is not a regular expression: ${(err as Error).message}`, 'fix the pattern');
  }
}

/** The --log-format value, or the default for this stderr; also used for flag errors, before the rest is checked. */
export function logFormat(text: string, stderr: { isTTY?: boolean } = process.stderr): LogFormat {
  if (text === '') return defaultLogFormat(stderr);
  if (!(LOG_FORMATS as readonly string[]).includes(text)) {
    throw new UserError('-log-format', `unknown format ${JSON.stringify(text)}`, `use one of ${LOG_FORMATS.join(', ')}`);
  }
  return text as LogFormat;
}

function logLevel(level: string, v: number): Level {
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new UserError('-log-level', `unknown level ${JSON.stringify(level)}`, `use one of ${LOG_LEVELS.join(', ')}`);
  }
  return v > 0 && level === 'info' ? 'debug' : (level as Level);
}

import { UserError } from '@flannel-ts/core';
import { DEFAULT_PLUGIN_DIRS } from '@flannel-ts/backends';
import { DEFAULT_EMBEDDED_STORE, DEFAULT_ETCD_ENDPOINTS, DEFAULT_ETCD_PREFIX, DEFAULT_SUBNET_FILE } from '@flannel-ts/core/internal';

type FlagType = 'string' | 'bool' | 'int' | 'list';

interface FlagDef {
  name: string;
  type: FlagType;
  default: string | boolean | number | string[];
  help: string;
}

const f = (name: string, type: FlagType, dflt: FlagDef['default'], help: string): FlagDef => ({ name, type, default: dflt, help });

/** Go flanneld's flags with their defaults (same names and meaning), plus the embedded store's, --log-level and --cleanup. */
export const FLAGS: readonly FlagDef[] = [
  f('etcd-endpoints', 'string', DEFAULT_ETCD_ENDPOINTS, 'a comma-delimited list of etcd endpoints'),
  f('etcd-prefix', 'string', DEFAULT_ETCD_PREFIX, 'etcd prefix'),
  f('etcd-keyfile', 'string', '', 'SSL key file used to secure etcd communication'),
  f('etcd-certfile', 'string', '', 'SSL certification file used to secure etcd communication'),
  f('etcd-cafile', 'string', '', 'SSL Certificate Authority file used to secure etcd communication'),
  f('etcd-username', 'string', '', 'username for BasicAuth to etcd'),
  f('etcd-password', 'string', '', 'password for BasicAuth to etcd'),
  f('iface', 'list', [], 'interface to use (IP or name) for inter-host communication; can be given several times'),
  f('iface-regex', 'list', [], 'regex matching the interface IP or name to use; can be given several times'),
  f('iface-can-reach', 'string', '', 'use the interface of the route to this IP'),
  f('subnet-file', 'string', DEFAULT_SUBNET_FILE, 'filename where env variables (subnet, MTU, ...) will be written to'),
  f('public-ip', 'string', '', 'IP accessible by other nodes for inter-host communication'),
  f('public-ipv6', 'string', '', 'IPv6 accessible by other nodes for inter-host communication'),
  f('subnet-lease-renew-margin', 'int', 60, 'subnet lease renewal margin, in minutes, ranging from 1 to 1439'),
  f('ip-masq', 'bool', false, 'setup IP masquerade rule for traffic destined outside of overlay network'),
  f('ip-masq-fully-random-disable', 'bool', false, 'disable fully random source port masquerading'),
  f('kube-subnet-mgr', 'bool', false, 'contact the Kubernetes API for subnet assignment instead of etcd'),
  f('kube-api-url', 'string', '', 'Kubernetes API server URL'),
  f('kube-annotation-prefix', 'string', 'flannel.alpha.coreos.com', 'Kubernetes annotation prefix'),
  f('kubeconfig-file', 'string', '', 'kubeconfig file location'),
  f('embedded-subnet-mgr', 'bool', false, 'keep leases in a file shared by the flanneld processes of this host (no etcd); flannel-ts only'),
  f('embedded-store-path', 'string', DEFAULT_EMBEDDED_STORE, "the embedded store's lease log; flannel-ts only"),
  f('version', 'bool', false, 'print version and exit'),
  f('healthz-ip', 'string', '0.0.0.0', 'the IP address for healthz server to listen'),
  f('healthz-port', 'int', 0, 'the port for healthz server to listen (0 to disable)'),
  f('iptables-resync', 'int', 5, 'resync period for iptables rules, in seconds'),
  f(
    'kernel-resync',
    'int',
    0,
    "period of the full comparison of the backend's kernel state (routes, neighbours, devices) with the leases, in seconds (0: the backend's own, 60 for the built-in ones); deletions are repaired at once anyway; flannel-ts only",
  ),
  f('iptables-forward-rules', 'bool', true, 'add default accept rules to FORWARD chain in iptables'),
  f('ip-blackhole-route', 'bool', false, "add a blackhole route for this node's own subnet"),
  f('net-config-path', 'string', '/etc/kube-flannel/net-conf.json', 'path to the network configuration file'),
  f(
    'plugin-dir',
    'list',
    [],
    `folder a backend plugin is installed into (npm install --prefix DIR); can be given several times; default ${DEFAULT_PLUGIN_DIRS.join(', ')}; flannel-ts only`,
  ),
  f('set-node-network-unavailable', 'bool', true, 'set NodeNetworkUnavailable after ready'),
  f('log-level', 'string', 'info', 'log level: fatal, error, warn, info, debug or trace; flannel-ts only'),
  f('log-format', 'string', '', 'log format: json or text (default: text when stderr is a terminal, json otherwise); flannel-ts only'),
  f('v', 'int', 0, 'log verbosity as in Go flanneld: 1 or more means debug'),
  f('vmodule', 'string', '', 'accepted for compatibility; ignored'),
  f('log_backtrace_at', 'string', '', 'accepted for compatibility; ignored'),
  f('cleanup', 'bool', false, 'remove what flanneld installed on this node (rules, devices, routes) and exit; flannel-ts only'),
  f('dry-run', 'bool', false, 'with --cleanup: print what would be removed, remove nothing'),
  f('yes', 'bool', false, 'with --cleanup: do not ask first (it asks only on a terminal)'),
  f('help', 'bool', false, 'print this help and exit'),
];

export type FlagValues = Record<string, string | boolean | number | string[]>;

export interface ParsedFlags {
  values: FlagValues;
  /** Flags given on the command line; the env overlay leaves these alone. */
  set: Set<string>;
}

const byName = new Map(FLAGS.map((d) => [d.name, d]));

/**
 * Go's flag syntax: `-name` or `--name`, then `=value` or the next argument; a bool takes no next argument
 * (`-ip-masq`, `-ip-masq=false`). `-h` is help. Parsing stops at `--` or the first non-flag, which flanneld
 * does not accept.
 */
export function parseFlags(argv: readonly string[]): ParsedFlags {
  const values: FlagValues = Object.fromEntries(FLAGS.map((d) => [d.name, Array.isArray(d.default) ? [...d.default] : d.default]));
  const set = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      if (i + 1 < argv.length) throw positional(argv[i + 1]!);
      break;
    }
    if (!arg.startsWith('-') || arg === '-') throw positional(arg);
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    const def = byName.get(name === 'h' ? 'help' : name);
    if (!def) throw new UserError(`-${name}`, `flag provided but not defined: -${name}`, 'run flanneld --help for the list of flags');
    let raw: string | undefined = eq < 0 ? undefined : body.slice(eq + 1);
    if (raw === undefined && def.type !== 'bool') {
      if (i + 1 >= argv.length) throw new UserError(`-${name}`, `flag needs an argument: -${name}`, `give it as -${name}=VALUE or -${name} VALUE`);
      raw = argv[++i]!;
    }
    setValue(values, def, raw, `-${name}`);
    set.add(def.name);
  }
  return { values, set };
}

/** `FLANNELD_<NAME>` (upper case, `-` as `_`) for every flag not given on the command line, as Go flanneld reads them; empty values are ignored. */
export function applyEnvOverlay(parsed: ParsedFlags, env: NodeJS.ProcessEnv): void {
  for (const def of FLAGS) {
    if (parsed.set.has(def.name) || def.name === 'version' || def.name === 'help') continue;
    const key = envName(def.name);
    const raw = env[key];
    if (raw === undefined || raw === '') continue;
    setValue(parsed.values, def, raw, key);
  }
}

export const envName = (flag: string) => `FLANNELD_${flag.toUpperCase().replace(/[-.]/g, '_')}`;

function setValue(values: FlagValues, def: FlagDef, raw: string | undefined, source: string): void {
  switch (def.type) {
    case 'bool': {
      const v = raw === undefined ? true : parseBool(raw);
      if (v === undefined) throw new UserError(source, `invalid boolean value ${JSON.stringify(raw)} for -${def.name}`, 'use true or false');
      values[def.name] = v;
      return;
    }
    case 'int': {
      if (!/^-?\d+$/.test(raw!)) throw new UserError(source, `invalid value ${JSON.stringify(raw)} for flag -${def.name}: parse error`, 'give a whole number');
      values[def.name] = Number(raw);
      return;
    }
    case 'list':
      (values[def.name] as string[]).push(raw!);
      return;
    default:
      values[def.name] = raw!;
  }
}

/** Go's strconv.ParseBool. */
function parseBool(s: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  return undefined;
}

function positional(arg: string): UserError {
  return new UserError('arguments', `unexpected argument ${JSON.stringify(arg)}`, 'flanneld takes flags only, e.g. -iface=eth0');
}

export function usage(): string {
  const lines = FLAGS.map((d) => {
    const dflt = Array.isArray(d.default) ? '' : d.default === '' || d.default === false ? '' : ` (default ${JSON.stringify(d.default)})`;
    return `  -${d.name}${d.type === 'bool' ? '' : ` ${d.type === 'int' ? 'int' : 'string'}`}\n        ${d.help}${dflt}`;
  });
  return `Usage: flanneld [flags]\nEvery flag can also come from the environment as FLANNELD_<NAME>, e.g. FLANNELD_ETCD_ENDPOINTS.\n\n${lines.join('\n')}\n`;
}

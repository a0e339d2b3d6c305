// flannelctl: looks into a running flanneld over its health listener (--healthz-port), in the spirit of
// `cilium status` and `calicoctl node status`, and moves a Go flannel v0.11 etcd store to v3.
import { writeFileSync } from 'node:fs';
import { isUserError } from '@flannel-ts/core';
import { createLogger, DEFAULT_ETCD_ENDPOINTS, DEFAULT_ETCD_PREFIX } from '@flannel-ts/core/internal';
import { CtlError, DEFAULT_ENDPOINT, FlanneldClient } from './client.js';
import { svgDiagram, textDiagram } from './diagram.js';
import { migrateV2ToV3, renderMigration } from './etcd-migrate.js';
import { probe, renderProbe } from './probe.js';
import { renderDiff, renderStatus } from './render.js';

const USAGE = `Usage: flannelctl [--endpoint URL] COMMAND [options]

Commands (against the flanneld whose health listener is at --endpoint, default ${DEFAULT_ENDPOINT},
or $FLANNELCTL_ENDPOINT; flanneld serves it when started with --healthz-port):
  status [--output json]      version, backend, lease, store, rules, reconcile, the peer table
  diff [--output json]        kernel entries against what the leases ask for, per device; exit 1 when they differ
  probe [--count N] [--output json]
                              ping every peer (vxlan: its overlay address; others: its public IP): RTT and loss
  diagram [--svg FILE] [--probe]
                              this node's view as text, or as an SVG file; --probe colours tunnels by health

  etcd migrate [--etcd-endpoints URLS] [--etcd-prefix P] [--apply]
                              copy Go flannel v0.11's config and leases from etcd v2 to v3
                              (dry run unless --apply; running it again changes nothing)
`;

interface Args {
  positional: string[];
  flags: Map<string, string | true>;
}

const VALUE_FLAGS = new Set([
  'endpoint',
  'output',
  'count',
  'svg',
  'etcd-endpoints',
  'etcd-prefix',
  'etcd-cafile',
  'etcd-certfile',
  'etcd-keyfile',
  'etcd-username',
  'etcd-password',
]);
const BOOL_FLAGS = new Set(['apply', 'probe', 'help']);

export function parseArgs(argv: string[]): Args {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('-')) {
      positional.push(a);
      continue;
    }
    const body = a.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    if (name === 'h') {
      flags.set('help', true);
      continue;
    }
    if (BOOL_FLAGS.has(name)) {
      flags.set(name, true);
      continue;
    }
    if (!VALUE_FLAGS.has(name)) throw new CtlError(`unknown flag --${name}; see flannelctl --help`);
    const value = eq >= 0 ? body.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new CtlError(`--${name} needs a value`);
    flags.set(name, value);
  }
  return { positional, flags };
}

const str = (a: Args, name: string, dflt: string) => (typeof a.flags.get(name) === 'string' ? (a.flags.get(name) as string) : dflt);

function output(a: Args): 'text' | 'json' {
  const o = str(a, 'output', 'text');
  if (o !== 'text' && o !== 'json') throw new CtlError(`--output ${o}: use text or json`);
  return o;
}

export async function run(argv: string[], out: (s: string) => void): Promise<number> {
  const a = parseArgs(argv);
  const [cmd, sub] = a.positional;
  if (a.flags.has('help') || !cmd) {
    out(USAGE);
    return cmd || a.flags.has('help') ? 0 : 2;
  }
  const client = new FlanneldClient(str(a, 'endpoint', process.env.FLANNELCTL_ENDPOINT || DEFAULT_ENDPOINT));
  const json = (v: unknown) => out(`${JSON.stringify(v, null, 2)}\n`);
  switch (cmd) {
    case 'status': {
      const s = await client.status();
      if (output(a) === 'json') json(s);
      else out(renderStatus(s));
      return 0;
    }
    case 'diff': {
      const d = await client.diff();
      if (output(a) === 'json') json(d);
      else out(renderDiff(d));
      return d.differs ? 1 : 0;
    }
    case 'probe': {
      const count = Number(str(a, 'count', '3'));
      if (!Number.isInteger(count) || count < 1 || count > 100) throw new CtlError('--count: give a whole number from 1 to 100');
      const s = await client.status();
      const results = await probe(s, count);
      if (output(a) === 'json') json(results);
      else out(renderProbe(s.lease?.subnet ?? 'this node', results));
      return results.some((r) => !r.skipped && r.received === 0) ? 1 : 0;
    }
    case 'diagram': {
      const s = await client.status();
      const probes = a.flags.has('probe') ? await probe(s, 2) : undefined;
      const svg = a.flags.get('svg');
      if (typeof svg === 'string') {
        writeFileSync(svg, svgDiagram(s, probes));
        out(`wrote ${svg}\n`);
      } else out(textDiagram(s, probes));
      return 0;
    }
    case 'etcd': {
      if (sub !== 'migrate') throw new CtlError('etcd: the only subcommand is migrate');
      const logger = createLogger('warn', process.stderr, 'text');
      const report = await migrateV2ToV3(
        {
          endpoints: str(a, 'etcd-endpoints', DEFAULT_ETCD_ENDPOINTS.split(',').at(-1)!),
          prefix: str(a, 'etcd-prefix', DEFAULT_ETCD_PREFIX).replace(/\/+$/, ''),
          cafile: str(a, 'etcd-cafile', ''),
          certfile: str(a, 'etcd-certfile', ''),
          keyfile: str(a, 'etcd-keyfile', ''),
          username: str(a, 'etcd-username', ''),
          password: str(a, 'etcd-password', ''),
        },
        a.flags.has('apply'),
        logger,
      );
      if (output(a) === 'json') json(report);
      else out(renderMigration(report));
      return report.steps.some((s) => s.action === 'conflict') ? 1 : 0;
    }
    default:
      throw new CtlError(`unknown command ${JSON.stringify(cmd)}; see flannelctl --help`);
  }
}

run(process.argv.slice(2), (s) => process.stdout.write(s)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: Error) => {
    process.stderr.write(`flannelctl: ${err instanceof CtlError || isUserError(err) ? err.message : (err.stack ?? err.message)}\n`);
    process.exitCode = 2;
  },
);

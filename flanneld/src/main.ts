// flanneld's entry point: parses flags (Go syntax, FLANNELD_* overlay), builds the composition root and
// runs the daemon until SIGTERM/SIGINT. A second signal exits at once.
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { isUserError, type Logger } from '@flannel-ts/core';
import { createLogger, defaultLogFormat, type LogFormat } from '@flannel-ts/core/internal';
import { askOnTerminal, Confirm, NodeCleanup } from './cleanup.js';
import { flanneldContainer } from './composition.js';
import { exitOnStall, installFatalHandlers } from './fatal.js';
import { applyEnvOverlay, parseFlags, usage } from './flags.js';
import { Flanneld } from './flanneld.js';
import { logFormat, toOptions, type FlanneldOptions } from './options.js';
import { requireNetAdmin } from './privileges.js';

const VERSION = `v${(JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version}`;

/**
 * The log format asked for, read loosely from the command line and FLANNELD_LOG_FORMAT: flag errors are
 * logged in it too, before the flags as a whole are known to be good.
 */
function formatForErrors(argv: string[]): LogFormat {
  const fromArgs = argv
    .map((a, i) => /^--?log-format=(.*)$/.exec(a)?.[1] ?? (/^--?log-format$/.test(a) ? argv[i + 1] : undefined))
    .filter((v) => v !== undefined)
    .at(-1);
  try {
    return logFormat(fromArgs ?? process.env.FLANNELD_LOG_FORMAT ?? '');
  } catch {
    return defaultLogFormat();
  }
}

/** Set by scripts/bundle-flanneld.mjs when this runs from flanneld's bundle. */
declare const FLANNELD_BUNDLED: boolean | undefined;

/** In the bundle, plugins must import the bundle's copy of core and backends, not the packages'. */
function bundledEntries(): Record<string, string> | undefined {
  if (typeof FLANNELD_BUNDLED === 'undefined' || !FLANNELD_BUNDLED) return undefined;
  const at = (file: string) => new URL(`./${file}`, import.meta.url).href;
  return {
    '@flannel-ts/core': at('core.js'),
    '@flannel-ts/core/netlink': at('core-netlink.js'),
    '@flannel-ts/core/ip': at('core-ip.js'),
    '@flannel-ts/backends': at('backends.js'),
  };
}

/** Flags and environment, checked; a user error is logged without a stack and exits 2. */
function readOptions(argv: string[]): FlanneldOptions | number {
  try {
    const parsed = parseFlags(argv);
    if (parsed.values.help) {
      process.stdout.write(usage());
      return 0;
    }
    if (parsed.values.version) {
      process.stderr.write(`${VERSION}\n`);
      return 0;
    }
    applyEnvOverlay(parsed, process.env);
    return toOptions(parsed.values);
  } catch (err) {
    if (!isUserError(err)) throw err;
    createLogger('info', process.stderr, formatForErrors(argv)).error({ field: err.field, hint: err.hint }, `flanneld: ${err.message}`);
    return 2;
  }
}

async function main(argv: string[]): Promise<number> {
  const opts = readOptions(argv);
  if (typeof opts === 'number') return opts;
  const logger = createLogger(opts.logLevel, process.stderr, opts.logFormat);
  installFatalHandlers(process, logger, (code) => process.exit(code));
  const container = flanneldContainer(opts, logger, VERSION, bundledEntries());
  try {
    if (opts.cleanup) {
      requireNetAdmin('flanneld --cleanup');
      container.bind<Confirm>(Confirm).toConstantValue(askOnTerminal);
      return await container.get(NodeCleanup).run({ dryRun: opts.dryRun, yes: opts.yes, interactive: process.stdin.isTTY === true });
    }
    logger.info({ version: VERSION, options: { ...opts, etcd: { ...opts.etcd, password: opts.etcd.password ? '***' : '' } } }, 'flanneld starting');
    const ac = new AbortController();
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals) => {
      if (++signals > 1) {
        logger.warn({ signal: sig }, 'second signal: exiting now');
        process.exit(130);
      }
      logger.info({ signal: sig }, 'shutting down');
      ac.abort();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    const daemon = await container.getAsync(Flanneld);
    let finished = false;
    exitOnStall(
      process,
      logger,
      () => daemon.stage,
      () => finished,
      (code) => process.exit(code),
    );
    try {
      return await daemon.run(ac.signal);
    } finally {
      finished = true;
    }
  } catch (err) {
    reportFailure(logger, err);
    return 1;
  } finally {
    await container.unbindAllAsync().catch((err: Error) => logger.warn({ err: err.message }, 'closing the store or netlink failed'));
  }
}

function reportFailure(logger: Logger, err: unknown): void {
  if (isUserError(err)) {
    logger.error({ field: err.field, hint: err.hint }, err.message);
  } else {
    logger.error({ err: (err as Error)?.message ?? String(err) }, 'flanneld failed');
    logger.debug({ stack: (err as Error)?.stack }, 'stack');
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Whatever is still open (a slow etcd close) must not hold a stopped daemon.
    setTimeout(() => process.exit(code), 500).unref();
  },
  (err: Error) => {
    createLogger('info', process.stderr, defaultLogFormat()).error({ err: err?.message, stack: err?.stack }, 'flanneld failed before it could start');
    process.exit(1);
  },
);

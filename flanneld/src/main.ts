// flanneld's entry point: parses flags (Go syntax, FLANNELD_* overlay), builds the composition root and
// runs the daemon until SIGTERM/SIGINT. A second signal exits at once.
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { isUserError, type Logger } from '@flannel-ts/core';
import { createLogger } from '@flannel-ts/core/internal';
import { NodeCleanup } from './cleanup.js';
import { flanneldContainer } from './composition.js';
import { applyEnvOverlay, parseFlags, usage } from './flags.js';
import { Flanneld } from './flanneld.js';
import { toOptions, type FlanneldOptions } from './options.js';

const VERSION = `v${(JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version}`;

/** Flags and environment, checked; a user error is printed without a stack and exits 2. */
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
    process.stderr.write(`flanneld: ${err.message}\n`);
    return 2;
  }
}

/** Anything thrown outside a promise we await (a timer, an event handler) is logged, then we exit 1. */
function logUncaught(logger: Logger): void {
  const die = (err: unknown) => {
    logger.error({ err: (err as Error)?.message ?? String(err), stack: (err as Error)?.stack }, 'flanneld hit an unexpected error; exiting');
    process.exit(1);
  };
  process.on('uncaughtException', die);
  process.on('unhandledRejection', die);
}

async function main(argv: string[]): Promise<number> {
  const opts = readOptions(argv);
  if (typeof opts === 'number') return opts;
  const logger = createLogger(opts.logLevel);
  logUncaught(logger);
  const container = flanneldContainer(opts, logger);
  try {
    if (opts.cleanup) {
      await container.get(NodeCleanup).run();
      return 0;
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
    return await daemon.run(ac.signal);
  } catch (err) {
    if (isUserError(err)) {
      logger.error({ field: err.field, hint: err.hint }, err.message);
    } else {
      logger.error({ err: (err as Error).message }, 'flanneld failed');
      logger.debug({ stack: (err as Error).stack }, 'stack');
    }
    return 1;
  } finally {
    await container.unbindAllAsync().catch((err: Error) => logger.warn({ err: err.message }, 'closing the store or netlink failed'));
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Whatever is still open (a slow etcd close) must not hold a stopped daemon.
    setTimeout(() => process.exit(code), 500).unref();
  },
  (err: Error) => {
    process.stderr.write(`flanneld: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);

#!/usr/bin/env node
// flanneld: the composition root. Parses flags (Go syntax, FLANNELD_* overlay), wires the container and
// runs the daemon until SIGTERM/SIGINT. A second signal exits at once.
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import type { ContainerModule } from 'inversify';
import { isUserError } from '../errors/user-error.js';
import { createLogger } from '../log/logger.js';
import { NetlinkHandle } from '../netlink/handle.js';
import { execRunner } from '../rules/command-runner.js';
import { cleanupNode } from './cleanup.js';
import { applyEnvOverlay, parseFlags, usage } from './flags.js';
import { runFlanneld } from './flanneld.js';
import { toOptions } from './options.js';

const VERSION = `v${(JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version}`;
/** The backend registry is loaded like a plugin: core has no build-time dependency on it. */
const BACKENDS_PACKAGE = '@flannel-ts/backends';

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseFlags(argv);
  } catch (err) {
    if (!isUserError(err)) throw err;
    process.stderr.write(`flanneld: ${err.message}\n`);
    return 2;
  }
  if (parsed.values.help) {
    process.stdout.write(usage());
    return 0;
  }
  if (parsed.values.version) {
    process.stderr.write(`${VERSION}\n`);
    return 0;
  }
  let opts;
  try {
    applyEnvOverlay(parsed, process.env);
    opts = toOptions(parsed.values);
  } catch (err) {
    if (!isUserError(err)) throw err;
    process.stderr.write(`flanneld: ${err.message}\n`);
    return 2;
  }
  const logger = createLogger(opts.logLevel);
  if (opts.cleanup) {
    const nl = NetlinkHandle.open();
    try {
      await cleanupNode(nl, execRunner, logger);
      return 0;
    } finally {
      nl.close();
    }
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

  let netlink: NetlinkHandle | undefined;
  try {
    const { backendsModule } = (await import(BACKENDS_PACKAGE)) as { backendsModule: ContainerModule };
    netlink = NetlinkHandle.open();
    return await runFlanneld(opts, { logger, netlink, backendsModule }, ac.signal);
  } catch (err) {
    if (isUserError(err)) {
      logger.error({ field: err.field, hint: err.hint }, err.message);
    } else {
      logger.error({ err: (err as Error).message }, 'flanneld failed');
      logger.debug({ stack: (err as Error).stack }, 'stack');
    }
    return 1;
  } finally {
    netlink?.close();
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

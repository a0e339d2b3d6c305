import type { Logger } from '@flannel-ts/core';

/**
 * Anything thrown outside a promise we await (a timer, an event handler) is logged in the log's format,
 * with the stack as a field, and flanneld exits 1: never a raw Node stack trace on stderr.
 */
export function installFatalHandlers(proc: NodeJS.EventEmitter, logger: Logger, exit: (code: number) => void): void {
  const die = (kind: string) => (err: unknown) => {
    const e = err as Error | undefined;
    logger.error({ kind, err: e?.message ?? String(err), stack: e?.stack }, 'flanneld hit an unexpected error; exiting');
    exit(1);
  };
  proc.on('uncaughtException', die('uncaughtException'));
  proc.on('unhandledRejection', die('unhandledRejection'));
}

/**
 * Node exits on its own when nothing is left to wait for: a startup step whose promise can never settle (a
 * backend's registerNetwork that forgot to resolve) would end the process with code 0 and no word. This
 * turns that into an error naming the step, and exit 1.
 */
export function exitOnStall(proc: NodeJS.EventEmitter, logger: Logger, stage: () => string, finished: () => boolean, exit: (code: number) => void): void {
  proc.on('beforeExit', () => {
    if (finished()) return;
    logger.error({ stage: stage() }, `flanneld stalled: ${stage()} never finished and nothing is left to wait for; exiting`);
    exit(1);
  });
}

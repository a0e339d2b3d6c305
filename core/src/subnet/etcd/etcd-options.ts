import { readFileSync } from 'node:fs';
import * as tls from 'node:tls';
import { ExponentialBackoff, handleWhen, noJitterGenerator, noop, retry } from 'cockatiel';
import { isRecoverableError, type IOptions } from 'etcd3';
import type { Logger } from '../../contracts/logger.js';
import { UserError } from '../../errors/user-error.js';

export { DEFAULT_ETCD_ENDPOINTS, DEFAULT_ETCD_PREFIX } from '../store-defaults.js';

/** The --etcd-* flags. */
export interface EtcdConfig {
  endpoints: string;
  prefix: string;
  keyfile?: string;
  certfile?: string;
  cafile?: string;
  username?: string;
  password?: string;
}

/**
 * Client options as Go flannel builds them: TLS only when both key and cert are given, basic auth when a
 * user is. Reconnects back off from 100 ms to 5 s; no circuit breaker, so a restarted etcd is used at once.
 */
export function etcdClientOptions(config: EtcdConfig, logger: Logger): IOptions {
  const hosts = config.endpoints
    .split(',')
    .map((h) => h.trim())
    .filter(Boolean);
  if (hosts.length === 0) throw new UserError('--etcd-endpoints', 'no endpoint given', 'pass a comma list such as http://10.0.0.1:2379');
  for (const h of hosts) {
    if (!/^https?:\/\/[^/]+\/?$/.test(h))
      throw new UserError('--etcd-endpoints', `${JSON.stringify(h)} is not an http:// or https:// URL`, 'use e.g. http://10.0.0.1:2379');
  }
  const options: IOptions = {
    hosts,
    dialTimeout: 5000,
    faultHandling: {
      host: () => noop,
      global: retry(handleWhen(isRecoverableError), {
        maxAttempts: 2,
        backoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 1000, generator: noJitterGenerator }),
      }),
      watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 5000, generator: noJitterGenerator }).next(),
    },
  };
  if (config.keyfile && config.certfile) {
    options.credentials = {
      rootCertificate: config.cafile ? readFlagFile('--etcd-cafile', config.cafile) : Buffer.from(tls.rootCertificates.join('\n')),
      privateKey: readFlagFile('--etcd-keyfile', config.keyfile),
      certChain: readFlagFile('--etcd-certfile', config.certfile),
    };
  } else {
    logger.warn({ endpoints: hosts }, 'connecting to etcd with http. This is insecure');
  }
  if (config.username) options.auth = { username: config.username, password: config.password ?? '' };
  return options;
}

function readFlagFile(flag: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new UserError(flag, `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'give a readable PEM file');
  }
}

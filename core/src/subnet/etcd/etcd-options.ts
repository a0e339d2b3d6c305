import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as tls from 'node:tls';
import type { Logger } from '../../contracts/logger.js';
import { UserError } from '../../errors/user-error.js';
import type { EtcdClientOptions } from './client.js';

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
 * Client options as Go flannel builds them: TLS with a client certificate when both key and cert are given,
 * basic auth when a user is. A call that finds no connection moves on to the next endpoint; a watch
 * reconnects backing off from 100 ms to 5 s (see client.ts).
 */
export function etcdClientOptions(config: EtcdConfig, logger: Logger): EtcdClientOptions {
  const hosts = config.endpoints
    .split(',')
    .map((h) => h.trim())
    .filter(Boolean);
  if (hosts.length === 0) throw new UserError('--etcd-endpoints', 'no endpoint given', 'pass a comma list such as http://10.0.0.1:2379');
  for (const h of hosts) {
    if (!/^https?:\/\/[^/]+\/?$/.test(h))
      throw new UserError('--etcd-endpoints', `${JSON.stringify(h)} is not an http:// or https:// URL`, 'use e.g. http://10.0.0.1:2379');
  }
  // No cap on what we receive: etcd caps values at its --max-request-bytes, so a large net-conf (or a big
  // listing) is limited by etcd, not by us.
  const options: EtcdClientOptions = { hosts, dialTimeout: 5000 };
  if (config.keyfile && config.certfile) {
    options.credentials = {
      rootCertificate: config.cafile ? readPem('--etcd-cafile', config.cafile, 'cert') : Buffer.from(tls.rootCertificates.join('\n')),
      privateKey: readPem('--etcd-keyfile', config.keyfile, 'key'),
      certChain: readPem('--etcd-certfile', config.certfile, 'cert'),
    };
  } else {
    logger.warn({ endpoints: hosts }, 'connecting to etcd with http. This is insecure');
  }
  if (config.username) options.auth = { username: config.username, password: config.password ?? '' };
  return options;
}

/**
 * A PEM file named by a flag, checked now: TLS would otherwise fail at every connection attempt with an
 * OpenSSL message that names neither the flag nor the file.
 */
function readPem(flag: string, path: string, kind: 'key' | 'cert'): Buffer {
  let pem: Buffer;
  try {
    pem = readFileSync(path);
  } catch (err) {
    throw new UserError(flag, `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'give a readable PEM file');
  }
  try {
    if (kind === 'key') createPrivateKey(pem);
    else new X509Certificate(pem);
  } catch {
    throw new UserError(
      flag,
      `${path} is not a PEM ${kind === 'key' ? 'private key' : 'certificate'}`,
      `give the ${kind === 'key' ? 'key' : 'certificate'} file in PEM form`,
    );
  }
  return pem;
}

import { EtcdClient, etcdClientOptions, type EtcdConfig } from '@flannel-ts/core/internal/etcd';
import type { Logger } from '@flannel-ts/core';
import { CtlError } from './client.js';

/** One key as etcd's v2 API returns it. */
interface V2Node {
  key: string;
  value?: string;
  dir?: boolean;
  ttl?: number;
  nodes?: V2Node[];
}

export interface MigrationStep {
  key: string;
  action: 'create' | 'skip' | 'conflict';
  /** Seconds left on the v2 key (its etcd v3 lease gets them); absent for the config and reservations. */
  ttl?: number;
  why: string;
}

export interface MigrationReport {
  applied: boolean;
  steps: MigrationStep[];
}

/** Reads the v2 keyspace over etcd's v2 HTTP API (enabled with etcd --enable-v2). */
export async function readV2(endpoint: string, path: string): Promise<V2Node | undefined> {
  const url = new URL(`/v2/keys${path}`, endpoint);
  url.searchParams.set('recursive', 'true');
  url.searchParams.set('quorum', 'true');
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause;
    throw new CtlError(`cannot reach etcd's v2 API at ${endpoint}: ${cause?.code ?? (err as Error).message}; check --etcd-endpoints`);
  }
  if (res.status === 404) {
    const body = (await res.json().catch(() => ({}))) as { errorCode?: number };
    if (body.errorCode === 100) return undefined; // key not found
    throw new CtlError(`etcd at ${endpoint} has no v2 API (404 on /v2/keys); start it with --enable-v2 for the migration`);
  }
  if (!res.ok) throw new CtlError(`etcd v2 GET ${url.pathname} answered ${res.status}: ${(await res.text()).trim()}`);
  return ((await res.json()) as { node: V2Node }).node;
}

/**
 * `flannelctl etcd migrate`: Go flannel v0.11 keeps `<prefix>/config` and `<prefix>/subnets/<key>` in etcd's
 * v2 keyspace; flannel-ts reads v3. Copies the config and every lease to v3, each lease with an etcd lease of
 * its remaining TTL (a key without TTL, a reservation, stays without one). Nothing is written without
 * `apply`; a key that is already in v3 with the same value is skipped, so running it again changes nothing,
 * and one with another value is reported and left alone (a v3 node already holds it).
 */
export async function migrateV2ToV3(config: EtcdConfig, apply: boolean, logger: Logger): Promise<MigrationReport> {
  const endpoint = config.endpoints.split(',')[0]!.trim();
  const prefix = config.prefix;
  const v3 = new EtcdClient(etcdClientOptions(config, logger));
  const signal = () => AbortSignal.timeout(10_000);
  try {
    const steps: MigrationStep[] = [];
    const cfg = await readV2(endpoint, `${prefix}/config`);
    if (!cfg?.value) throw new CtlError(`no ${prefix}/config in etcd's v2 keyspace at ${endpoint}; nothing to migrate (is --etcd-prefix right?)`);
    const subnets = await readV2(endpoint, `${prefix}/subnets`);
    const leases = (subnets?.nodes ?? []).filter((n) => !n.dir && n.value !== undefined);
    const plan: { key: string; value: string; ttl?: number }[] = [
      { key: `${prefix}/config`, value: cfg.value },
      ...leases.map((n) => ({ key: n.key, value: n.value!, ...(n.ttl !== undefined ? { ttl: n.ttl } : {}) })),
    ];
    for (const item of plan) {
      const current = (await v3.range({ key: item.key }, signal())).kvs[0]?.value ?? null;
      const ttl = item.ttl !== undefined ? { ttl: item.ttl } : {};
      if (current === item.value) {
        steps.push({ key: item.key, action: 'skip', ...ttl, why: 'already in v3 with the same value' });
        continue;
      }
      if (current !== null) {
        steps.push({ key: item.key, action: 'conflict', ...ttl, why: `v3 holds another value (${current}); left alone` });
        continue;
      }
      steps.push({
        key: item.key,
        action: 'create',
        ...ttl,
        why:
          item.ttl !== undefined
            ? `with an etcd lease of ${item.ttl} s (what is left of its TTL)`
            : item.key.endsWith('/config')
              ? 'the network config'
              : 'no TTL: a reservation',
      });
      if (!apply) continue;
      // Created only if absent (etcd version 0): a node that wrote the key meanwhile keeps it.
      const absent = { key: item.key, target: 'version', result: '==', value: 0 } as const;
      if (item.ttl !== undefined) {
        const { id } = await v3.leaseGrant(Math.max(1, item.ttl), signal());
        const ok = await v3.txn({ compare: [absent], success: [{ put: { key: item.key, value: item.value, lease: id } }] }, signal());
        if (!ok.succeeded) await v3.leaseRevoke(id, signal());
      } else {
        await v3.txn({ compare: [absent], success: [{ put: { key: item.key, value: item.value } }] }, signal());
      }
    }
    return { applied: apply, steps };
  } finally {
    v3.close();
  }
}

export function renderMigration(r: MigrationReport): string {
  const lines = r.steps.map((s) => `  ${(r.applied || s.action !== 'create' ? s.action : 'would create').padEnd(12)} ${s.key}  ${s.why}`);
  const creates = r.steps.filter((s) => s.action === 'create').length;
  const conflicts = r.steps.filter((s) => s.action === 'conflict').length;
  const summary = r.applied
    ? `${creates} keys written to v3, ${r.steps.length - creates - conflicts} already there, ${conflicts} left alone`
    : `dry run: ${creates} keys would be written to v3; run again with --apply to write them`;
  return `${lines.join('\n')}\n${summary}\n`;
}

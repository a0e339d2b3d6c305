// The kube store in-process against the real API server: what it writes, RBAC, the node name from a pod.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstValueFrom, filter } from 'rxjs';
import { IP } from '@flannel-ts/core';
import { createKubeSubnetManager, type KubeSubnetManager } from '@flannel-ts/core/internal/kube';
import { systemClock } from '@flannel-ts/core/internal';
import { RecordingLogger } from '@flannel-ts/core/testing';
import type { KubeFixture } from '../harness/kube-apiserver.js';
import { DEADLINE } from '../harness/wait.js';
import { MANIFEST_RULES } from './manifest.js';

const P = 'flannel.alpha.coreos.com/';
let dir = '';
let netConf = '';
const vxlanAttrs = (ip: string, mac: string) => ({ backendType: 'vxlan', publicIP: IP.parse(ip), backendData: { VNI: 1, VtepMAC: mac } });

/** A ServiceAccount bound to `rules` only, and a kubeconfig with its token (from the TokenRequest API). */
async function serviceAccountWith(f: KubeFixture, name: string, rules: object[]): Promise<string> {
  await f.request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'fts-rbac' } });
  await f.request('POST', '/api/v1/namespaces/fts-rbac/serviceaccounts', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name } });
  await f.ok('PUT', `/apis/rbac.authorization.k8s.io/v1/clusterroles/${name}`, {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name },
    rules,
  });
  await f.ok('PUT', `/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${name}`, {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
    subjects: [{ kind: 'ServiceAccount', name, namespace: 'fts-rbac' }],
  });
  const tr = await f.ok<{ status: { token: string } }>('POST', `/api/v1/namespaces/fts-rbac/serviceaccounts/${name}/token`, {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: { expirationSeconds: 3600 },
  });
  const file = join(f.run, `${name}.kubeconfig`);
  f.writeKubeconfig(file, 'node-agent');
  writeFileSync(file, readFileSync(file, 'utf8').replace(/token: .*/, `token: ${tr.status.token}`), { mode: 0o600 });
  return file;
}

export function storeSuite(fixture: () => KubeFixture): void {
  const managers: KubeSubnetManager[] = [];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fts-kube-store-'));
    netConf = join(dir, 'net-conf.json');
    writeFileSync(netConf, JSON.stringify({ Network: '10.246.0.0/16', Backend: { Type: 'vxlan' } }));
  });
  const open = async (kubeconfigFile: string, nodeName: string, extra: Record<string, string> = {}) => {
    const logger = new RecordingLogger();
    const m = await createKubeSubnetManager(
      {
        apiUrl: '',
        kubeconfigFile,
        annotationPrefix: 'flannel.alpha.coreos.com',
        setNodeNetworkUnavailable: true,
        env: { NODE_NAME: nodeName, ...extra },
        netConfigPath: netConf,
      },
      logger,
      systemClock,
    );
    managers.push(m);
    return { m, logger };
  };
  afterAll(async () => {
    for (const m of managers) await m.close();
    for (const n of ['st-a', 'st-b', 'st-pod', 'st-rbac']) await fixture().deleteNode(n);
    rmSync(dir, { recursive: true, force: true });
  });

  it(
    'writes the annotations and the NetworkUnavailable condition exactly as Go flannel, as the manifest role allows',
    async () => {
      const f = fixture();
      const kc = await serviceAccountWith(f, 'fts-manifest-role', MANIFEST_RULES);
      await f.createNode('st-a', ['10.246.1.0/24']);
      const { m } = await open(kc, 'st-a');
      const ac = new AbortController();
      const lease = await m.acquireLease(vxlanAttrs('192.0.2.31', '0a:58:0a:f6:01:01'), ac.signal);
      expect(String(lease.subnet)).toBe('10.246.1.0/24');
      const holding = m.completeLease(lease, ac.signal);
      const node = await waitForNode(f, 'st-a', (n) => (n.status?.conditions ?? []).some((c) => c.type === 'NetworkUnavailable'));
      expect(node.metadata.annotations).toEqual({
        [`${P}backend-data`]: '{"VNI":1,"VtepMAC":"0a:58:0a:f6:01:01"}',
        [`${P}backend-type`]: 'vxlan',
        [`${P}kube-subnet-manager`]: 'true',
        [`${P}public-ip`]: '192.0.2.31',
      });
      const cond = node.status!.conditions!.find((c) => c.type === 'NetworkUnavailable')!;
      expect(cond).toEqual({
        type: 'NetworkUnavailable',
        status: 'False',
        reason: 'FlannelIsUp',
        message: 'Flannel is running on this node',
        lastTransitionTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
        lastHeartbeatTime: cond.lastTransitionTime,
      });

      // A peer appears through the watch, with the attributes its annotations carry.
      const peers = m.watchLeases();
      await f.createNode('st-b', ['10.246.2.0/24'], {
        [`${P}kube-subnet-manager`]: 'true',
        [`${P}backend-type`]: 'vxlan',
        [`${P}public-ip`]: '192.0.2.32',
        [`${P}backend-data`]: '{"VNI":1,"VtepMAC":"0a:58:0a:f6:02:01"}',
      });
      const seen = await firstValueFrom(
        peers.pipe(filter((r) => (r.kind === 'snapshot' ? r.snapshot : r.events.map((e) => e.lease)).some((l) => String(l.subnet) === '10.246.2.0/24'))),
      );
      expect(seen).toBeDefined();
      // The node-public-ip annotation a person sets is what flanneld takes as --public-ip at its next start.
      await f.annotateNode('st-a', { [`${P}node-public-ip`]: '198.51.100.31' });
      expect(String((await m.storedPublicIP(ac.signal)).publicIP)).toBe('198.51.100.31');
      ac.abort();
      await holding;
    },
    DEADLINE.testMs,
  );

  it.each([
    ['patch', 'nodes/status', (r: { resources: string[]; verbs: string[] }) => (r.resources.includes('nodes/status') ? { ...r, verbs: [] } : r)],
    [
      'get',
      'nodes',
      (r: { resources: string[]; verbs: string[] }) => (r.resources.includes('nodes') ? { ...r, verbs: r.verbs.filter((v) => v !== 'get') } : r),
    ],
  ])(
    'fails with an RBAC error naming the verb when the role lacks %s %s',
    async (verb, resource, reduce) => {
      const f = fixture();
      const name = `fts-no-${verb}`;
      const kc = await serviceAccountWith(
        f,
        name,
        MANIFEST_RULES.map(reduce).filter((r) => r.verbs.length),
      );
      await f.createNode('st-rbac', ['10.246.3.0/24']).catch(() => undefined);
      const { m } = await open(kc, 'st-rbac');
      await expect(m.acquireLease(vxlanAttrs('192.0.2.33', '0a:58:0a:f6:03:01'), AbortSignal.timeout(DEADLINE.convergeMs))).rejects.toThrow(
        new RegExp(`RBAC: the Kubernetes API refused to ${verb} ${resource}.*"${verb}" on "${resource}"`),
      );
    },
    DEADLINE.testMs,
  );

  it(
    'finds its node from its own pod (POD_NAME, POD_NAMESPACE) when NODE_NAME is not set',
    async () => {
      const f = fixture();
      const kc = await serviceAccountWith(f, 'fts-manifest-role', MANIFEST_RULES);
      await f.request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'fts-pods' } });
      await f.ok('POST', '/api/v1/namespaces/fts-pods/pods', {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'flannel-x' },
        spec: { nodeName: 'st-pod', containers: [{ name: 'c', image: 'localhost/none' }] },
      });
      const logger = new RecordingLogger();
      const m = await createKubeSubnetManager(
        {
          apiUrl: '',
          kubeconfigFile: kc,
          annotationPrefix: 'flannel.alpha.coreos.com',
          setNodeNetworkUnavailable: true,
          env: { POD_NAME: 'flannel-x', POD_NAMESPACE: 'fts-pods' },
          netConfigPath: netConf,
        },
        logger,
        systemClock,
      );
      managers.push(m);
      expect(m.name).toBe('Kubernetes Subnet Manager - st-pod');
    },
    DEADLINE.testMs,
  );
}

async function waitForNode(
  f: KubeFixture,
  name: string,
  ok: (n: Awaited<ReturnType<KubeFixture['getNode']>>) => boolean,
): Promise<Awaited<ReturnType<KubeFixture['getNode']>>> {
  const deadline = Date.now() + DEADLINE.convergeMs;
  for (;;) {
    const n = await f.getNode(name);
    if (ok(n) || Date.now() > deadline) return n;
    await new Promise((r) => setTimeout(r, 50));
  }
}

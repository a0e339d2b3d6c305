// deploy/kube-flannel-ts.yml against the real API server: server-side dry run, then applied for real
// (its ClusterRole is what the e2e binds the node-agent user to).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeFixture } from '../harness/kube-apiserver.js';
import { repoRoot } from '../harness/kube-apiserver.js';
import { DEADLINE } from '../harness/wait.js';

export const MANIFEST = join(repoRoot(), 'deploy', 'kube-flannel-ts.yml');

/** The manifest ClusterRole's rules, as written there (checked against the YAML by the suite). */
export const MANIFEST_RULES = [
  { apiGroups: [''], resources: ['pods'], verbs: ['get'] },
  { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: [''], resources: ['nodes/status'], verbs: ['patch'] },
];

/** Applies the manifest and binds its ClusterRole to the fixture's node-agent user (for the e2e flanneld). */
export async function applyManifestAndBindAgent(f: KubeFixture): Promise<void> {
  const r = await f.kubectl(['apply', '-f', MANIFEST]);
  if (r.code !== 0) throw new Error(`kubectl apply failed: ${r.out}`);
  await f.ok('PUT', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/flannel-ts-node-agent', {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: 'flannel-ts-node-agent' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'flannel' },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'node-agent' }],
  });
}

export function manifestSuite(fixture: () => KubeFixture): void {
  it(
    'passes kubectl apply --dry-run=server, and its ClusterRole is the one the tests use',
    async () => {
      const f = fixture();
      // On a cluster without the namespace, a server-side dry run cannot place the namespaced objects (it
      // creates nothing): everything else passes, and they fail for that reason alone.
      const fresh = await f.kubectl(['apply', '--dry-run=server', '-f', MANIFEST]);
      expect(fresh.out).toContain('namespace/kube-flannel created (server dry run)');
      expect(fresh.out.split('\n').filter((l) => l.startsWith('Error'))).toEqual(
        Array(3).fill('Error from server (NotFound): error when creating "' + MANIFEST + '": namespaces "kube-flannel" not found'),
      );
      await f.ok('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kube-flannel' } });
      const dry = await f.kubectl(['apply', '--dry-run=server', '-f', MANIFEST]);
      expect({ code: dry.code, out: dry.out }).toEqual({ code: 0, out: expect.any(String) });
      for (const obj of [
        'namespace/kube-flannel',
        'clusterrole.rbac.authorization.k8s.io/flannel',
        'clusterrolebinding.rbac.authorization.k8s.io/flannel',
        'serviceaccount/flannel',
        'configmap/kube-flannel-cfg',
        'daemonset.apps/kube-flannel-ds',
      ]) {
        expect(dry.out).toMatch(new RegExp(`${obj.replace(/[./]/g, '\\$&')} (created|configured|unchanged) \\(server dry run\\)`));
      }
      await applyManifestAndBindAgent(f);
      const role = await f.ok<{ rules: object[] }>('GET', '/apis/rbac.authorization.k8s.io/v1/clusterroles/flannel');
      expect(role.rules).toEqual(MANIFEST_RULES);
      const ds = await f.ok<{ spec: { template: { spec: Record<string, unknown> } } }>(
        'GET',
        '/apis/apps/v1/namespaces/kube-flannel/daemonsets/kube-flannel-ds',
      );
      const pod = ds.spec.template.spec as {
        hostNetwork: boolean;
        priorityClassName: string;
        initContainers: { name: string }[];
        containers: { securityContext: { capabilities: { add: string[] } }; livenessProbe: unknown; readinessProbe: unknown }[];
      };
      expect(pod.hostNetwork).toBe(true);
      expect(pod.priorityClassName).toBe('system-node-critical');
      expect(pod.initContainers.map((c) => c.name)).toEqual(['install-cni-plugin', 'install-cni']);
      expect(pod.containers[0]!.securityContext.capabilities.add).toEqual(['NET_ADMIN', 'NET_RAW']);
      expect(pod.containers[0]!.livenessProbe).toMatchObject({ httpGet: { path: '/healthz', port: 8081 } });
      expect(pod.containers[0]!.readinessProbe).toMatchObject({ httpGet: { path: '/readyz', port: 8081 } });
      const cm = await f.ok<{ data: Record<string, string> }>('GET', '/api/v1/namespaces/kube-flannel/configmaps/kube-flannel-cfg');
      expect(JSON.parse(cm.data['net-conf.json']!)).toEqual({ Network: '10.244.0.0/16', EnableNFTables: false, Backend: { Type: 'vxlan' } });
      expect(JSON.parse(cm.data['cni-conf.json']!).plugins.map((p: { type: string }) => p.type)).toEqual(['flannel', 'portmap']);
      expect(readFileSync(MANIFEST, 'utf8')).toContain('pod-security.kubernetes.io/enforce: privileged');
    },
    DEADLINE.testMs,
  );
}

// Whether the kube suites can run here: where there is no fixture they are skipped with a loud line saying
// how to provide one, unless KUBE_REQUIRED=1 (CI), where that is a failure.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { kubeFixtureDir } from '../harness/kube-apiserver.js';

export function missingReason(): string | undefined {
  const dir = kubeFixtureDir();
  for (const f of ['kube-apiserver', 'start-apiserver.sh', 'stop-apiserver.sh']) {
    if (!existsSync(join(dir, f))) return `no ${f} in ${dir}`;
  }
  if (process.getuid?.() !== 0) return 'not root (the kube suites build network namespaces)';
  try {
    execFileSync('sh', ['-c', 'command -v etcd'], { stdio: 'ignore' });
  } catch {
    return 'no etcd on PATH (scripts/install-deps.sh installs etcd-server)';
  }
  return undefined;
}

/**
 * `describe` for a kube suite: runs where the fixture is; elsewhere skipped with a loud line saying how to
 * provide one, or (KUBE_REQUIRED=1, as in CI) a failing test.
 */
export function describeKube(name: string, fn: () => void): void {
  const why = missingReason();
  if (!why) return describe(name, fn);
  const msg =
    `KUBE SUITES NOT RUN (${name}): ${why}. Put Kubernetes' kube-apiserver fixture (kube-apiserver, start-apiserver.sh, ` +
    `stop-apiserver.sh) in ../shared/kube/ beside the repository, or point KUBE_APISERVER_DIR at it, and run as root.`;
  if (process.env.KUBE_REQUIRED === '1') {
    return describe(name, () => {
      it('has a kube-apiserver fixture (KUBE_REQUIRED=1)', () => {
        throw new Error(msg);
      });
    });
  }
  console.warn(`\n${'#'.repeat(110)}\n# ${msg}\n${'#'.repeat(110)}\n`);
  describe.skip(name, fn);
}

import { kubeAnnotations } from './annotations.js';

describe('kubeAnnotations (Go Test_newAnnotations)', () => {
  it.each([
    ['flannel.alpha.coreos.com', 'flannel.alpha.coreos.com/backend-type'],
    ['flannel.alpha.coreos.com/', 'flannel.alpha.coreos.com/backend-type'],
    ['flannel.alpha.coreos.com/prefix', 'flannel.alpha.coreos.com/prefix-backend-type'],
    ['flannel.alpha.coreos.com/prefix-', 'flannel.alpha.coreos.com/prefix-backend-type'],
    ['org.com/9', 'org.com/9-backend-type'],
  ])('%s gives %s', (prefix, key) => {
    expect(kubeAnnotations(prefix).backendType).toBe(key);
  });

  it.each(['org', 'org/', 'org/prefix', 'org.COM', 'org.com/PREFIX', 'a.com/b/c'])('refuses %s with the flag and Go message', (prefix) => {
    expect(() => kubeAnnotations(prefix)).toThrow(/^-kube-annotation-prefix: subnet\/kube: prefix (must be in a format|can contain at most single slash)/);
  });

  it('names every key Go uses', () => {
    const a = kubeAnnotations();
    expect([a.subnetKubeManaged, a.backendData, a.backendV6Data, a.backendPublicIP, a.backendPublicIPv6, a.backendPublicIPOverwrite, a.nodePublicIP]).toEqual([
      'flannel.alpha.coreos.com/kube-subnet-manager',
      'flannel.alpha.coreos.com/backend-data',
      'flannel.alpha.coreos.com/backend-v6-data',
      'flannel.alpha.coreos.com/public-ip',
      'flannel.alpha.coreos.com/public-ipv6',
      'flannel.alpha.coreos.com/public-ip-overwrite',
      'flannel.alpha.coreos.com/node-public-ip',
    ]);
  });
});

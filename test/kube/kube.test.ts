// Every suite that needs the Kubernetes API, in one file, so that the API server fixture starts once per
// test run (and is stopped by PID even when a suite fails). Each suite uses its own Node names.
import { jest } from '@jest/globals';
import { KubeFixture } from '../harness/kube-apiserver.js';
import { describeKube } from './describe-kube.js';
import { tearDown } from '../harness/topology.js';
import { DEADLINE } from '../harness/wait.js';
import { hostGwSuite, vxlanSuite } from './e2e.js';
import { manifestSuite } from './manifest.js';
import { storeSuite } from './store.js';

jest.setTimeout(DEADLINE.testMs);

describeKube('Kubernetes (real kube-apiserver)', () => {
  let fixture: KubeFixture | undefined;
  const f = () => {
    if (!fixture) throw new Error('the kube-apiserver fixture did not start');
    return fixture;
  };
  beforeAll(async () => {
    fixture = await KubeFixture.start();
  }, 300_000);
  afterAll(async () => {
    await tearDown([]);
    await fixture?.stop();
  }, 120_000);

  describe('the manifest', () => manifestSuite(f));
  describe('the kube store in-process', () => storeSuite(f));
  describe('e2e: vxlan, 3 nodes in kube mode', () => vxlanSuite(f));
  describe('e2e: host-gw, 3 nodes in kube mode', () => hostGwSuite(f));
});

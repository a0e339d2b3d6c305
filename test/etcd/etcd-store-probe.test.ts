// The watch's check that etcd is still the store it was (EtcdRegistry's probe), against a real etcd. Its own
// etcd: the test counts the Range requests etcd served, so no other test's client may be talking to it.
import { jest } from '@jest/globals';
import { Etcd3 } from 'etcd3';
import { StoreSubnetManager } from '@flannel-ts/core/internal';
import { EtcdRegistry, etcdClientOptions, PROBE_MS } from '@flannel-ts/core/internal/etcd';
import { FakeClock, RecordingLogger } from '@flannel-ts/core/testing';
import { startEtcd, type EtcdServer } from '../harness/etcd.js';
import { stopAllProcesses } from '../harness/processes.js';
import { DEADLINE, waitFor } from '../harness/wait.js';

jest.setTimeout(DEADLINE.testMs);

const PREFIX = '/coreos.com/network';
const CONFIG = '{"Network":"10.5.0.0/16","Backend":{"Type":"vxlan"}}';
let etcd: EtcdServer;
let registry: EtcdRegistry | undefined;

/** How many Range requests etcd has served, from its own metrics. */
async function rangesServed(): Promise<number> {
  const text = await (await fetch(`${etcd.endpoint}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('grpc_server_handled_total{') && l.includes('grpc_method="Range"') && l.includes('grpc_code="OK"'));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

beforeAll(async () => {
  etcd = await startEtcd();
}, DEADLINE.setupMs);

afterAll(async () => {
  await registry?.close();
  await etcd?.destroy();
  await stopAllProcesses();
});

it('checks the store on the answers of config reads, and asks etcd itself only in a period without one', async () => {
  const writer = new Etcd3({ hosts: etcd.endpoint });
  await writer.put(`${PREFIX}/config`).value(CONFIG);
  await writer.put(`${PREFIX}/subnets/10.5.7.0-24`).value('{"PublicIP":"192.0.2.7","PublicIPv6":null}');
  writer.close();
  const logger = new RecordingLogger();
  const clock = new FakeClock();
  registry = new EtcdRegistry(etcdClientOptions({ endpoints: etcd.endpoint, prefix: PREFIX }, logger), PREFIX, logger, clock);
  const sm = new StoreSubnetManager(registry, logger, { renewMarginMinutes: 60 });
  const sub = sm.watchLeases().subscribe();
  try {
    expect(await waitFor(() => logger.messages().includes('etcd watch connected') && clock.waiting === 1, DEADLINE.readyMs)).toBe(true);
    const before = await rangesServed();

    // A period in which nobody read the config: the probe asks etcd itself.
    await clock.advance(PROBE_MS);
    expect(await waitFor(async () => (await rangesServed()) === before + 1 && clock.waiting === 1, DEADLINE.readyMs)).toBe(true);

    // A period with a config read (flanneld's store monitor makes one every 5 s): its answer was enough.
    await sm.getNetworkConfig(AbortSignal.timeout(DEADLINE.readyMs));
    await clock.advance(PROBE_MS);
    expect(await waitFor(() => clock.waiting === 1, DEADLINE.readyMs)).toBe(true);
    expect(await rangesServed()).toBe(before + 2);

    // Such an answer tells a replaced store as the probe's own would: etcd wiped, its revision behind ours.
    await etcd.wipe();
    const again = new Etcd3({ hosts: etcd.endpoint });
    await again.put(`${PREFIX}/config`).value(CONFIG); // an operator puts the config back
    again.close();
    await sm.getNetworkConfig(AbortSignal.timeout(DEADLINE.readyMs));
    expect(logger.messages('error')).toContain('the etcd store was replaced or restored; listing leases again');
  } finally {
    sub.unsubscribe();
  }
});

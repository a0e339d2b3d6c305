import 'reflect-metadata';
import { BACKEND_CONTRACT_VERSION, IP, type Backend, type BackendDescriptor, type ExternalInterface } from '@flannel-ts/core';
import { FakeClock, FakeNetlink, InMemorySubnetManager, loadNetConfig, RecordingLogger } from '@flannel-ts/core/testing';
import { BackendLoader, BackendLoadError } from './backend-loader.js';
import { BackendRegistry } from './backend-registry.js';
import type { BackendSource } from './backend-source.js';
import type { ModuleImporter } from './module-importer.js';

const extIface: ExternalInterface = { iface: { name: 'eth0', index: 2, mtu: 1500 }, ifaceAddr: IP.parse('192.0.2.10'), extAddr: IP.parse('192.0.2.10') };

/** A descriptor whose backend says which descriptor made it. */
const descriptor = (name: string, made: string): BackendDescriptor => ({
  name,
  contractVersion: BACKEND_CONTRACT_VERSION,
  create: () => ({ made }) as unknown as Backend,
});

/** A source that counts its imports and fails while `failing` is set. */
function source(name: string, made: string) {
  const s = {
    name,
    loads: 0,
    failing: undefined as Error | undefined,
    load: async () => {
      s.loads++;
      if (s.failing) throw s.failing;
      return descriptor(name, made);
    },
  };
  return s;
}

function registry(o: { sources?: BackendSource[]; registered?: BackendDescriptor[]; plugins?: Record<string, unknown> }) {
  const requested: string[] = [];
  const importer: ModuleImporter = {
    import: async (specifier) => {
      requested.push(specifier);
      if (o.plugins && specifier in o.plugins) return o.plugins[specifier];
      throw Object.assign(new Error(`Cannot find package '${specifier}' imported from /x.js`), { code: 'ERR_MODULE_NOT_FOUND' });
    },
    searched: (specifier) => [`/plugins/node_modules/${specifier}`],
  };
  const config = loadNetConfig('{"Network":"10.244.0.0/16"}');
  const r = new BackendRegistry(
    new BackendLoader(importer),
    new InMemorySubnetManager(config),
    new RecordingLogger(),
    new FakeClock(),
    new FakeNetlink(),
    o.registered,
    undefined,
    undefined,
    o.sources,
  );
  return { requested, get: async (type: string) => (await r.getBackend(type, extIface)) as unknown as { made: string } };
}

describe('BackendRegistry with backend sources', () => {
  it('imports a source only when its type is asked for, matching the name in any case', async () => {
    const vxlan = source('vxlan', 'vxlan source');
    const hostGw = source('host-gw', 'host-gw source');
    const r = registry({ sources: [vxlan, hostGw] });
    expect(vxlan.loads + hostGw.loads).toBe(0);
    expect((await r.get('VXLAN')).made).toBe('vxlan source');
    expect([vxlan.loads, hostGw.loads]).toEqual([1, 0]);
    expect(r.requested).toEqual([]);
  });

  it('prefers a descriptor registered by a ContainerModule over a source of the same name', async () => {
    const vxlan = source('vxlan', 'vxlan source');
    const r = registry({ sources: [vxlan], registered: [descriptor('vxlan', 'registered')] });
    expect((await r.get('vxlan')).made).toBe('registered');
    expect(vxlan.loads).toBe(0);
  });

  it('names a source whose files are missing as a broken installation, and tries again on the next request', async () => {
    const vxlan = source('vxlan', 'vxlan source');
    const missing = Object.assign(new Error("Cannot find module '/usr/lib/flannel/bundle/dist-ABC.js'"), { code: 'ERR_MODULE_NOT_FOUND' });
    vxlan.failing = missing;
    const r = registry({ sources: [vxlan] });
    const err = await r.get('vxlan').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendLoadError);
    expect(err).toMatchObject({ field: 'Backend.Type', hint: expect.stringMatching(/^reinstall flannel-ts, or restart flanneld/), cause: missing });
    expect((err as Error).message).toContain(
      "the built-in backend vxlan is missing from this installation: Cannot find module '/usr/lib/flannel/bundle/dist-ABC.js'",
    );
    vxlan.failing = undefined;
    expect((await r.get('vxlan')).made).toBe('vxlan source');
    expect(vxlan.loads).toBe(2);
  });

  it('names any other failure while a source loads as a bug, keeping it as the cause', async () => {
    const udp = source('udp', 'udp source');
    const broken = new TypeError('Cannot read properties of undefined');
    udp.failing = broken;
    const err = await registry({ sources: [udp] })
      .get('udp')
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ field: 'Backend.Type', hint: expect.stringMatching(/bug in flannel-ts/), cause: broken });
    expect((err as Error).message).toContain('the built-in backend udp failed to load: Cannot read properties of undefined');
  });

  it('looks any other type up as a plugin package', async () => {
    const r = registry({ sources: [source('vxlan', 'vxlan source')], plugins: { 'flannel-backend-geneve': { backend: descriptor('geneve', 'plugin') } } });
    expect((await r.get('geneve')).made).toBe('plugin');
    expect(r.requested).toEqual(['flannel-backend-geneve']);
  });
});

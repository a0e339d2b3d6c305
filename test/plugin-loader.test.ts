// The plugin loader against real packages: the built-in skeletons, a third-party package that `npm ci`
// installs from test/fixtures (a local folder), and plugins given as paths. Everything is built by the
// DI container, as the daemon will do it.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Container, ContainerModule } from 'inversify';
import { BACKEND_CONTRACT_VERSION, IP, SubnetManager, type Backend, type ExternalInterface } from '@flannel-ts/core';
import { coreModule, loadNetConfig } from '@flannel-ts/core/internal';
import { InMemorySubnetManager, RecordingLogger } from '@flannel-ts/core/testing';
import { BackendLoader, BackendRegistry, backendsModule, BUILTIN_BACKENDS, PluginSearch } from '@flannel-ts/backends';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const fixtures = resolve(fileURLToPath(new URL('.', import.meta.url)), 'fixtures/plugins');

function daemonContainer(netConf: string) {
  const config = loadNetConfig(netConf);
  const subnetManager = new InMemorySubnetManager(config);
  const logger = new RecordingLogger();
  const extIface: ExternalInterface = { iface: { name: 'eth0', index: 2, mtu: 1500 }, ifaceAddr: IP.parse('192.0.2.10'), extAddr: IP.parse('192.0.2.10') };
  const container = createContainer(
    coreModule({ logger }),
    backendsModule,
    new ContainerModule(({ bind }) => {
      bind(SubnetManager).toConstantValue(subnetManager);
    }),
  );
  const backends = container.get(BackendRegistry);
  return { config, subnetManager, logger, getBackend: (type: string) => backends.getBackend(type, extIface) };
}

function createContainer(...modules: ContainerModule[]): Container {
  const container = new Container({ defaultScope: 'Singleton' });
  container.load(...modules);
  return container;
}

describe('Backend.Type selects a plugin package', () => {
  it('runs a third-party backend installed from a local folder, selected as "example"', async () => {
    const { config, subnetManager, logger, getBackend } = daemonContainer('{"Network": "10.50.0.0/16", "Backend": {"Type": "example", "Greeting": "hi"}}');
    const backend = await getBackend(config.backendType);
    const network = await backend.registerNetwork(config, AbortSignal.timeout(5000));

    expect(String(network.lease.subnet)).toBe('10.50.1.0/24');
    expect(network.mtu).toBe(1490);
    const [stored] = subnetManager.list();
    expect(stored?.attrs.backendType).toBe('example');
    expect(stored?.attrs.backendData).toEqual({ Greeting: 'hi' });
    expect(logger.entries.find((e) => e.msg === 'backend loaded')?.obj).toMatchObject({ backend: 'example', package: 'flannel-backend-example' });

    const stop = new AbortController();
    const running = network.run(stop.signal);
    stop.abort();
    await expect(running).resolves.toBeUndefined();
  });

  it('builds one backend per type and shares it', async () => {
    const { getBackend } = daemonContainer('{"Network": "10.50.0.0/16"}');
    const [a, b] = await Promise.all([getBackend('example'), getBackend('example')]);
    expect(a).toBe(b);
  });

  it('loads every built-in backend package through the same loader', async () => {
    const loader = createContainer(coreModule({ logger: new RecordingLogger() }), backendsModule).get(BackendLoader);
    for (const type of BUILTIN_BACKENDS) {
      const { descriptor, specifier } = await loader.load(type);
      expect([descriptor.name, specifier]).toEqual([type, `@flannel-ts/${type}`]);
    }
  });

  it('creates the ipsec backend, the last one that was a skeleton', async () => {
    const { config, getBackend } = daemonContainer('{"Network": "10.50.0.0/16", "Backend": {"Type": "ipsec"}}');
    expect((await getBackend(config.backendType)).constructor.name).toBe('IpsecBackend');
  });

  it('accepts a path to a plugin folder', async () => {
    const loader = createContainer(coreModule({ logger: new RecordingLogger() }), backendsModule).get(BackendLoader);
    const loaded = await loader.load(resolve(fixtures, '../flannel-backend-example'));
    expect(loaded.descriptor.name).toBe('example');
  });

  it.each([
    ['old-contract', new RegExp(`implements backend contract v0\\.0, but this flanneld implements v${BACKEND_CONTRACT_VERSION.replace('.', '\\.')}`)],
    ['no-descriptor', /exports no backend descriptor/],
    ['broken', /failed to load: .*a-dependency-that-is-not-installed/],
    ['missing-folder', /unknown backend type; no package .*missing-folder found.*check that the path exists/],
  ])('gives a clear error for the %s plugin', async (name, message) => {
    const { getBackend } = daemonContainer('{"Network": "10.50.0.0/16"}');
    const err = await getBackend(resolve(fixtures, name)).catch((e: unknown) => e);
    expect((err as Error).name).toBe('UserError');
    expect((err as Error).message).toMatch(message);
  });

  it('says how to install a plugin that is not there', async () => {
    const { getBackend } = daemonContainer('{"Network": "10.50.0.0/16"}');
    const attempt: Promise<Backend> = getBackend('@acme/geneve');
    await expect(attempt).rejects.toThrow(
      'no package @acme/flannel-backend-geneve found (looked in /usr/lib/flannel/plugins/node_modules/@acme/flannel-backend-geneve',
    );
    await expect(attempt).rejects.toThrow('npm install --prefix /usr/lib/flannel/plugins @acme/flannel-backend-geneve');
  });
});

describe('plugin folders (--plugin-dir)', () => {
  let dir: string;
  beforeAll(() => {
    // What `npm install --prefix DIR flannel-backend-dirtest` leaves behind.
    dir = mkdtempSync(join(tmpdir(), 'flannel-plugins-'));
    const pkg = join(dir, 'node_modules', 'flannel-backend-dirtest');
    mkdirSync(pkg, { recursive: true });
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'flannel-backend-dirtest', type: 'module', exports: { '.': './main.js' } }));
    writeFileSync(
      join(pkg, 'main.js'),
      "export const backend = { name: 'dirtest', contractVersion: '1.0', create: () => ({ registerNetwork: async () => { throw new Error('not here'); } }) };\n",
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const loaderWith = (search: PluginSearch) =>
    createContainer(
      coreModule({ logger: new RecordingLogger() }),
      backendsModule,
      new ContainerModule(({ bind }) => {
        bind(PluginSearch).toConstantValue(search);
      }),
    ).get(BackendLoader);

  it("finds a plugin installed into a plugin folder, before flanneld's own dependencies", async () => {
    const loaded = await loaderWith({ dirs: ['/nonexistent', dir] }).load('dirtest');
    expect([loaded.descriptor.name, loaded.specifier]).toEqual(['dirtest', 'flannel-backend-dirtest']);
  });

  it("resolves a relative path against the net-conf file's folder, and refuses one from an etcd config", async () => {
    const fromFile = await loaderWith({ dirs: [], relativeTo: join(dir, 'node_modules') }).load('./flannel-backend-dirtest');
    expect(fromFile.descriptor.name).toBe('dirtest');
    await expect(loaderWith({ dirs: [] }).load('./flannel-backend-dirtest')).rejects.toThrow(
      /Backend.Type: .*"\.\/flannel-backend-dirtest" is a relative path, but the network config came from etcd/,
    );
  });

  it("gives a plugin in a plugin folder flanneld's own copy of @flannel-ts/core, though it has none of its own", () => {
    // What `npm install --prefix DIR --omit=peer flannel-backend-shared` leaves: a plugin importing core, and no core.
    const pkg = join(dir, 'node_modules', 'flannel-backend-shared');
    mkdirSync(pkg, { recursive: true });
    writeFileSync(
      join(pkg, 'package.json'),
      JSON.stringify({ name: 'flannel-backend-shared', type: 'module', exports: './index.js', peerDependencies: { '@flannel-ts/core': '^0.1.0' } }),
    );
    writeFileSync(
      join(pkg, 'index.js'),
      "import { UserError, BACKEND_CONTRACT_VERSION } from '@flannel-ts/core';\nexport const backend = { name: 'shared', contractVersion: BACKEND_CONTRACT_VERSION, create() {}, UserError };\n",
    );
    // module.register hooks need a process of their own (jest's module loader is not Node's).
    const script = `
      import { NodeModuleImporter, shareCoreWithPlugins } from '@flannel-ts/backends';
      import { UserError } from '@flannel-ts/core';
      shareCoreWithPlugins();
      const mod = await new NodeModuleImporter({ dirs: [${JSON.stringify(dir)}] }).import('flannel-backend-shared');
      console.log(JSON.stringify({ name: mod.backend.name, sameCore: mod.backend.UserError === UserError }));`;
    const out = execFileSync('node', ['--input-type=module', '-e', script], {
      cwd: join(fileURLToPath(new URL('.', import.meta.url)), '..'),
      encoding: 'utf8',
    });
    expect(JSON.parse(out)).toEqual({ name: 'shared', sameCore: true });
  });
});

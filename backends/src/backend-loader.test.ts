import { BACKEND_CONTRACT_VERSION, UserError } from '@flannel-ts/core';
import { BackendLoader, BackendLoadError } from './backend-loader.js';
import type { ModuleImporter } from './module-importer.js';

/** An importer over a fixed table of modules; anything else fails as Node does for a missing package. */
class TableImporter implements ModuleImporter {
  readonly requested: string[] = [];
  constructor(private readonly modules: Record<string, unknown>) {}
  async import(specifier: string): Promise<unknown> {
    this.requested.push(specifier);
    if (specifier in this.modules) {
      const m = this.modules[specifier];
      if (m instanceof Error) throw m;
      return m;
    }
    throw Object.assign(new Error(`Cannot find package '${specifier}' imported from /x.js`), { code: 'ERR_MODULE_NOT_FOUND' });
  }
}

const descriptor = (name: string, contractVersion = BACKEND_CONTRACT_VERSION) => ({ name, contractVersion, create: () => ({}) });

describe('BackendLoader.candidates', () => {
  const loader = new BackendLoader(new TableImporter({}));
  it.each([
    ['vxlan', ['@flannel-ts/vxlan']],
    ['VXLAN', ['@flannel-ts/vxlan']],
    ['host-gw', ['@flannel-ts/host-gw']],
    ['wireguard', ['@flannel-ts/wireguard']],
    ['geneve', ['flannel-backend-geneve', 'geneve']],
    ['flannel-backend-geneve', ['flannel-backend-geneve']],
    ['@acme/geneve', ['@acme/flannel-backend-geneve', '@acme/geneve']],
    ['@acme/flannel-backend-geneve', ['@acme/flannel-backend-geneve']],
    ['./plugins/geneve', ['./plugins/geneve']],
    ['/opt/Plugins/Geneve.js', ['/opt/Plugins/Geneve.js']],
  ])('%s → %j', (type, expected) => {
    expect(loader.candidates(type)).toEqual(expected);
  });
});

describe('BackendLoader.load', () => {
  it('takes the `backend` export, or else the default export', async () => {
    const importer = new TableImporter({
      'flannel-backend-a': { backend: descriptor('a') },
      'flannel-backend-b': { default: descriptor('b') },
    });
    const loader = new BackendLoader(importer);
    expect((await loader.load('a')).descriptor.name).toBe('a');
    expect((await loader.load('b')).specifier).toBe('flannel-backend-b');
  });

  it('falls back to the name as a full package name', async () => {
    const importer = new TableImporter({ geneve: { backend: descriptor('geneve') } });
    expect((await new BackendLoader(importer).load('geneve')).specifier).toBe('geneve');
    expect(importer.requested).toEqual(['flannel-backend-geneve', 'geneve']);
  });

  it('says what it tried and how to install when nothing is found', async () => {
    const err = await new BackendLoader(new TableImporter({})).load('geneve').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendLoadError);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).field).toBe('Backend.Type');
    expect((err as Error).message).toMatch(/unknown backend type; no package found \(tried flannel-backend-geneve, geneve\)/);
    expect((err as Error).message).toMatch(/npm install flannel-backend-geneve/);
  });

  it('refuses a plugin built for another contract version, naming both versions', async () => {
    const loader = new BackendLoader(new TableImporter({ 'flannel-backend-old': { backend: descriptor('old', 99) } }));
    await expect(loader.load('old')).rejects.toThrow(`implements backend contract v99, but this flanneld implements v${BACKEND_CONTRACT_VERSION}`);
  });

  it('refuses a module without a descriptor', async () => {
    const loader = new BackendLoader(new TableImporter({ 'flannel-backend-x': { backend: { name: 'x' } } }));
    await expect(loader.load('x')).rejects.toThrow(/exports no backend descriptor/);
  });

  it('reports a plugin whose own import fails as broken, not as missing', async () => {
    const depMissing = Object.assign(new Error("Cannot find package 'left-pad' imported from /p.js"), { code: 'ERR_MODULE_NOT_FOUND' });
    const loader = new BackendLoader(new TableImporter({ 'flannel-backend-x': depMissing }));
    await expect(loader.load('x')).rejects.toThrow(/package flannel-backend-x failed to load: Cannot find package 'left-pad'/);
  });

  it('rejects an empty type', async () => {
    await expect(new BackendLoader(new TableImporter({})).load(' ')).rejects.toThrow(/Backend.Type: "\s*": empty/);
  });
});

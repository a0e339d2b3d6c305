import { BACKEND_CONTRACT_VERSION, UserError } from '@flannel-ts/core';
import { BUILTIN_BACKENDS } from './builtin.js';
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
  searched(specifier: string): string[] {
    return [`/plugins/node_modules/${specifier}`];
  }
}

const descriptor = (name: string, contractVersion: string | number = BACKEND_CONTRACT_VERSION) => ({ name, contractVersion, create: () => ({}) });

describe('BackendLoader.candidate', () => {
  const loader = new BackendLoader(new TableImporter({}));
  it.each([
    ['vxlan', '@flannel-ts/vxlan'],
    ['VXLAN', '@flannel-ts/vxlan'],
    ['extension', '@flannel-ts/extension'],
    ['host-gw', '@flannel-ts/host-gw'],
    ['geneve', 'flannel-backend-geneve'],
    ['flannel-backend-geneve', 'flannel-backend-geneve'],
    ['@acme/geneve', '@acme/flannel-backend-geneve'],
    ['@acme/flannel-backend-geneve', '@acme/flannel-backend-geneve'],
    ['@acme', '@acme/flannel-backend'],
    ['./plugins/geneve', './plugins/geneve'],
    ['/opt/Plugins/Geneve.js', '/opt/Plugins/Geneve.js'],
  ])('%s → %s', (type, expected) => {
    expect(loader.candidate(type)).toBe(expected);
  });
});

describe('BackendLoader.load', () => {
  it('takes the `backend` export, or else the default export', async () => {
    const importer = new TableImporter({
      'flannel-backend-a': { backend: descriptor('a') },
      'flannel-backend-b': { default: descriptor('b', 1) },
    });
    const loader = new BackendLoader(importer);
    expect((await loader.load('a')).descriptor.name).toBe('a');
    expect((await loader.load('b')).specifier).toBe('flannel-backend-b');
  });

  it('never falls back to the bare name: "left-pad" must not import an unrelated package', async () => {
    const importer = new TableImporter({ 'left-pad': { backend: descriptor('left-pad') } });
    await expect(new BackendLoader(importer).load('left-pad')).rejects.toThrow(/no package flannel-backend-left-pad found/);
    expect(importer.requested).toEqual(['flannel-backend-left-pad']);
  });

  it('says where it looked and how to install when nothing is found', async () => {
    const err = await new BackendLoader(new TableImporter({})).load('geneve').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendLoadError);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).field).toBe('Backend.Type');
    expect((err as Error).message).toMatch(
      /unknown backend type; no package flannel-backend-geneve found \(looked in \/plugins\/node_modules\/flannel-backend-geneve\)/,
    );
    expect((err as Error).message).toMatch(/npm install --prefix \/usr\/lib\/flannel\/plugins flannel-backend-geneve/);
  });

  it('suggests the built-in type for a near miss, with no npm advice', async () => {
    const loader = new BackendLoader(new TableImporter({}));
    for (const [typo, meant] of [
      ['vxaln', 'vxlan'],
      ['vxlam', 'vxlan'],
      ['hostgw', 'host-gw'],
      ['host_gw', 'host-gw'],
      ['IPIP4', 'ipip'],
      ['wiregaurd', 'wireguard'],
    ]) {
      const err = (await loader.load(typo!).catch((e: unknown) => e)) as Error;
      expect(err.message).toBe(
        `Backend.Type: ${JSON.stringify(typo)}: unknown backend type; did you mean ${meant}?; set Backend.Type to "${meant}", or another built-in type (vxlan, host-gw, ipip, udp, ipsec, extension, wireguard)`,
      );
    }
  });

  it('names a Go backend flannel-ts does not have instead of asking to install it; wireguard is built in', async () => {
    expect(BUILTIN_BACKENDS).toContain('wireguard');
    const err = (await new BackendLoader(new TableImporter({})).load('alloc').catch((e: unknown) => e)) as Error;
    expect(err.message).toBe(
      `Backend.Type: "alloc": Go flannel's alloc backend is not available in flannel-ts yet; use one of vxlan, host-gw, ipip, udp, ipsec, extension, wireguard (vxlan works across subnets; host-gw needs the nodes on one L2 segment)`,
    );
    expect(err.message).not.toContain('npm install');
  });

  it('says a built-in package is missing from the installation without npm advice', async () => {
    const err = (await new BackendLoader(new TableImporter({})).load('udp').catch((e: unknown) => e)) as Error;
    expect(err.message).toBe(
      `Backend.Type: "udp": the built-in backend's package @flannel-ts/udp is missing from this installation; @flannel-ts/udp ships with flannel-ts: reinstall flannel-ts`,
    );
  });

  it('refuses a plugin built for another contract major, or a newer minor, naming both versions', async () => {
    const loader = new BackendLoader(
      new TableImporter({ 'flannel-backend-old': { backend: descriptor('old', 2) }, 'flannel-backend-new': { backend: descriptor('new', '1.9') } }),
    );
    await expect(loader.load('old')).rejects.toThrow(`implements backend contract v2.0, but this flanneld implements v${BACKEND_CONTRACT_VERSION}`);
    await expect(loader.load('new')).rejects.toThrow(`implements backend contract v1.9, but this flanneld implements v${BACKEND_CONTRACT_VERSION}`);
  });

  it.each([
    [{ backend: { name: 'x', contractVersion: 1 } }, "'create' is not a function"],
    [{ backend: { contractVersion: 1, create() {} } }, "'name' is not a non-empty string"],
    [{ backend: { name: 'x', create() {} } }, "'contractVersion' is missing"],
    [{ backend: { name: 'x', contractVersion: 1, create() {}, cleanup: 'yes' } }, "'cleanup' is not a function"],
    [{ helper: 1 }, 'it has neither a `backend` nor a default export'],
  ])('names the field a plugin got wrong: %j', async (mod, message) => {
    const loader = new BackendLoader(new TableImporter({ 'flannel-backend-x': mod }));
    await expect(loader.load('x')).rejects.toThrow(`plugin flannel-backend-x exports no backend descriptor: ${message}`);
  });

  it('reports a plugin whose own import fails as broken, not as missing', async () => {
    const depMissing = Object.assign(new Error("Cannot find package 'left-pad' imported from /p.js"), { code: 'ERR_MODULE_NOT_FOUND' });
    const loader = new BackendLoader(new TableImporter({ 'flannel-backend-x': depMissing }));
    await expect(loader.load('x')).rejects.toThrow(/plugin flannel-backend-x failed to load: Cannot find package 'left-pad'/);
  });

  it('rejects an empty type', async () => {
    await expect(new BackendLoader(new TableImporter({})).load(' ')).rejects.toThrow(/Backend.Type: "\s*": empty/);
  });
});

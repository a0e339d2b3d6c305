// Tests run as ESM TypeScript through swc (no type check here: `npm run typecheck` does that).
// Workspace packages resolve to their sources, so tests never run against a stale dist/.
const swc = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2022',
    },
    module: { type: 'es6' },
    sourceMaps: 'inline',
  },
];

const common = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': swc },
  moduleNameMapper: {
    '^@flannel-ts/core/(testing|netlink|ip)$': '<rootDir>/core/src/$1/index.ts',
    '^@flannel-ts/core/internal$': '<rootDir>/core/src/internal.ts',
    '^@flannel-ts/core/internal/(etcd|embedded|kube)$': '<rootDir>/core/src/subnet/$1/index.ts',
    '^@flannel-ts/(core|backends|vxlan|host-gw|ipip|udp|ipsec|extension|wireguard)$': '<rootDir>/$1/src/index.ts',
    '^@flannel-ts/vici$': '<rootDir>/ipsec/vici/src/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  modulePathIgnorePatterns: ['<rootDir>/.*/dist/'],
};

export default {
  reporters: ['default', '<rootDir>/scripts/jest-summary-reporter.cjs'],
  // The suites that need the nested kernel go last, and one VM boot runs them all beside the host suites
  // (test/vm/vm-batch.mjs); a suite run alone boots the VM just the same.
  testSequencer: '<rootDir>/test/vm/jest-sequencer.mjs',
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/*/src/**/*.test.ts', '<rootDir>/ipsec/vici/src/**/*.test.ts', '<rootDir>/examples/*/src/**/*.test.ts'],
    },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      // jest indexes only the folder its tests are in: the whole checkout is ~30,000 files (node_modules),
      // which takes ~20 s to walk over the nested kernel's 9p share. Imports still resolve anywhere.
      roots: ['<rootDir>/test'],
      globalSetup: '<rootDir>/test/vm/jest-global-setup.mjs',
      globalTeardown: '<rootDir>/test/vm/jest-global-teardown.mjs',
    },
  ],
};

// The plugin's own tests, run with `npm test` in this folder: TypeScript through swc, as ES modules, against
// the @flannel-ts/core that is installed (its built dist). In the flannel-ts checkout the root's jest config
// runs them too, against core's sources.
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'es6' } }],
  },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testMatch: ['<rootDir>/src/**/*.test.ts'],
};

// ESLint: typescript-eslint's recommended rules, plus the layering of the workspace written as import rules.
//
//   flanneld ──► backends, vxlan, host-gw, ipip, udp, ipsec, extension ──► @flannel-ts/core (index, /netlink, /ip)
//       └──────────────────────────────────────────────────────► @flannel-ts/core/internal
//   ipsec ──► @flannel-ts/vici (ipsec/vici), which imports no workspace package
//   cni ──► @flannel-ts/core/ip only (it is bundled into one standalone file)
//   test/ may import anything, flanneld's source included.
//
// Each file falls into exactly one zone below, and each zone lists every import it forbids: in a flat config
// a later `no-restricted-imports` replaces an earlier one instead of adding to it.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const root = path.dirname(fileURLToPath(import.meta.url));
const workspaces = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).workspaces;
const BACKEND_PACKAGES = ['backends', 'vxlan', 'host-gw', 'ipip', 'udp', 'ipsec', 'extension'];
const TESTS = ['**/*.test.ts'];

/** Relative imports stay inside their own package: another package is reached by its name and public exports. */
const noRelativeCrossPackage = {
  meta: {
    type: 'problem',
    schema: [{ type: 'object', properties: { allow: { type: 'object' } }, additionalProperties: false }],
    messages: {
      crosses: "'{{source}}' reaches from {{from}} into {{to}}/: import '@flannel-ts/{{to}}' (its public exports) instead.",
      intoFlanneld: "'{{source}}' reaches from {{from}} into flanneld/: flanneld is the application at the top, nothing imports it (only test/ suites may).",
    },
  },
  create(context) {
    const allow = context.options[0]?.allow ?? {};
    const packageOf = (file) => {
      const top = path.relative(root, file).split(path.sep)[0];
      return workspaces.includes(top) ? top : undefined;
    };
    const from = packageOf(context.filename);
    const check = (node) => {
      const source = node?.type === 'Literal' ? node.value : undefined;
      if (typeof source !== 'string' || !source.startsWith('.')) return;
      const to = packageOf(path.resolve(path.dirname(context.filename), source));
      if (to === undefined || to === from || allow[from ?? '']?.includes(to)) return;
      const messageId = to === 'flanneld' ? 'intoFlanneld' : 'crosses';
      context.report({ node, messageId, data: { source, from: from === undefined ? 'outside the packages' : `${from}/`, to } });
    };
    return {
      ImportDeclaration: (n) => check(n.source),
      ExportNamedDeclaration: (n) => check(n.source),
      ExportAllDeclaration: (n) => check(n.source),
      ImportExpression: (n) => check(n.source),
    };
  },
};

// What each zone may not import. `regex` is matched against the import specifier.
const forbid = {
  flanneld: { regex: '^@flannel-ts/flanneld(/|$)', message: 'flanneld is the application at the top: nothing imports it (only test/ suites may).' },
  cni: { regex: '^@flannel-ts/cni(/|$)', message: 'The CNI plugin is a standalone executable, not a library.' },
  testDoubles: { regex: '^@flannel-ts/core/testing$', message: 'Test doubles are for *.test.ts and test/, not for shipped code.' },
  otherWorkspacePackages: {
    regex: '^@flannel-ts/(?!core(/|$))',
    message: 'core depends on no other workspace package: dependencies point inward (backends → core).',
  },
  coreBeyondPublicApi: {
    regex: '^@flannel-ts/core/(?!(netlink|ip)$)',
    message: "A backend uses core's public API only: '@flannel-ts/core', '@flannel-ts/core/netlink', '@flannel-ts/core/ip' (and '/testing' in tests).",
  },
  coreBeyondPublicApiInTests: {
    regex: '^@flannel-ts/core/(?!(netlink|ip|testing)$)',
    message: "A backend's tests use '@flannel-ts/core', '/netlink', '/ip' and '/testing' (which has loadNetConfig too).",
  },
  cniBeyondIp: {
    regex: '^@flannel-ts/(?!core/ip$)',
    message: "The CNI plugin is bundled on its own: from the workspace it may use only '@flannel-ts/core/ip'.",
  },
  beyondSdk: {
    regex: '^@flannel-ts/(?!core(/|$))',
    message: "A third party's plugin is written against the SDK alone: '@flannel-ts/core' and its public entries.",
  },
  implementationInContracts: {
    regex: '^(?!\\./)',
    allowTypeImports: true,
    message: 'Contracts depend on no implementation: from outside core/src/contracts/ use `import type` only.',
  },
};

const restrict = (...patterns) => ({ 'no-restricted-imports': ['error', { patterns }] });
const inPackages = (names, glob = '**/*.ts') => names.map((n) => `${n}/${glob}`);

export default defineConfig(
  { ignores: ['**/node_modules/', '**/dist/', 'flanneld/bundle/', '.cache/', '**/*.d.ts'] },

  { files: ['**/*.{js,mjs,cjs}'], extends: [js.configs.recommended], languageOptions: { globals: { ...globals.node } } },
  { files: ['**/*.cjs'], languageOptions: { sourceType: 'commonjs' } },
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommended],
    // Decorator metadata needs value imports of injected classes; these flags let consistent-type-imports know.
    languageOptions: { parserOptions: { emitDecoratorMetadata: true, experimentalDecorators: true } },
  },

  {
    plugins: { layering: { rules: { 'no-relative-cross-package': noRelativeCrossPackage } } },
    rules: { 'layering/no-relative-cross-package': ['error', { allow: { test: ['flanneld'] } }] },
  },

  // core: the SDK and flanneld's building blocks. It imports no other workspace package.
  { files: ['core/**/*.ts'], ignores: TESTS, rules: restrict(forbid.otherWorkspacePackages, forbid.testDoubles) },
  { files: ['core/**/*.test.ts'], rules: restrict(forbid.otherWorkspacePackages) },
  {
    files: ['core/src/contracts/**/*.ts'],
    ignores: TESTS,
    rules: restrict(forbid.implementationInContracts, forbid.otherWorkspacePackages, forbid.testDoubles),
  },

  // Backend packages: core's public API only.
  { files: inPackages(BACKEND_PACKAGES), ignores: TESTS, rules: restrict(forbid.coreBeyondPublicApi, forbid.flanneld, forbid.cni) },
  {
    files: inPackages(BACKEND_PACKAGES, '**/*.test.ts'),
    rules: restrict(forbid.coreBeyondPublicApiInTests, forbid.flanneld, forbid.cni),
  },

  // ipsec/vici: the VICI client, a library of its own that knows nothing of flannel. Later than the backend zone
  // above, so for its files this list replaces that one.
  {
    files: ['ipsec/vici/**/*.ts'],
    rules: restrict({ regex: '^@flannel-ts/', message: '@flannel-ts/vici depends on no workspace package: it is a plain VICI client.' }),
  },

  // Example plugins (examples/): what a third party can use, the documented SDK only.
  { files: ['examples/**/*.ts'], ignores: TESTS, rules: restrict(forbid.coreBeyondPublicApi, forbid.beyondSdk, forbid.testDoubles) },
  { files: ['examples/**/*.test.ts'], rules: restrict(forbid.coreBeyondPublicApiInTests, forbid.beyondSdk) },

  // flanneld: the composition root; it may use core/internal, but not test doubles.
  { files: ['flanneld/**/*.{ts,js}'], ignores: TESTS, rules: restrict(forbid.testDoubles, forbid.cni) },
  { files: ['flanneld/**/*.test.ts'], rules: restrict(forbid.cni) },

  // cni: bundled into one file that starts once per pod.
  { files: ['cni/**/*.ts'], rules: restrict(forbid.cniBeyondIp) },

  // Scripts and root files are tools: they run the packages, they do not import their insides.
  { files: ['scripts/**', '*.{js,mjs,cjs}'], rules: restrict(forbid.flanneld, forbid.cni) },

  {
    files: ['**/*.ts'],
    rules: {
      // `_`-prefixed parameters and variables are deliberately unused (interface shapes, destructuring).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
    },
  },
);

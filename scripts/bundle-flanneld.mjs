// Bundles flanneld into flanneld/bundle/: its own code, core, the backends package and the built-in
// backends, tree-shaken into a few files, so that a start reads a handful of files instead of hundreds
// and parses only what it uses. Separate entries for '@flannel-ts/core' (and '/netlink', '/ip') and
// '@flannel-ts/backends' share their chunks with the daemon, and plugins' imports of those packages
// are resolved to them (backends/src/same-core-hooks.ts): one copy of core in the process.
// Left out of the bundle: ffi-rs (a native addon, loaded from node_modules). The Kubernetes client is the
// part of @kubernetes/client-node that scripts/bundle-kube-client.mjs bundled into core, in a chunk
// imported only in kube mode; the etcd client is core's own code, in a chunk imported only in etcd mode.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { build } from 'esbuild';

const root = new URL('..', import.meta.url).pathname;
const out = join(root, 'flanneld', 'bundle');

/**
 * Dependencies' entry files load parts flanneld never uses, and a start paid for them (measured with
 * --cpu-prof: ~8 ms and five more Node built-ins). In the bundle only, these stand in for them:
 *  - prom-client's index also loads its Pushgateway (http, https, zlib), cluster aggregation (cluster) and
 *    Summary; flanneld uses the five parts below, from the same files the index takes them from;
 *  - prom-client's CPU metric loads @opentelemetry/api (~50 KB) to label exemplars with the active span;
 *    flanneld has no tracing, where the real API answers "no span" too;
 *  - pino loads thread-stream (worker_threads, assert) for log transports and sonic-boom (assert) for
 *    writing to a file descriptor; flanneld never configures a transport and always hands pino a stream.
 *    Asked for either anyway, these say so instead.
 */
const TRIMMED = {
  'prom-client': `module.exports = {
    Registry: require('prom-client/lib/registry'),
    Counter: require('prom-client/lib/counter'),
    Gauge: require('prom-client/lib/gauge'),
    Histogram: require('prom-client/lib/histogram'),
    collectDefaultMetrics: require('prom-client/lib/defaultMetrics'),
  };`,
  'thread-stream': `module.exports = class ThreadStream {
    constructor() { throw new Error('pino transports are not available in flanneld: it logs to stderr only'); }
  };`,
  '@opentelemetry/api': `module.exports = { trace: { getSpan: () => undefined }, context: { active: () => undefined } };`,
  'sonic-boom': `module.exports = class SonicBoom {
    constructor() { throw new Error('pino destinations are not available in flanneld: it logs to a stream'); }
  };`,
};
const trimDependencies = {
  name: 'trim-dependencies',
  setup(b) {
    // rxjs's package exports give Node its CommonJS build, which esbuild can only take whole (~330 KB that
    // every start parsed and ran); its ES2015 module build lets esbuild keep just the operators in use.
    const rxjsEsm = join(dirname(createRequire(join(root, 'core', 'package.json')).resolve('rxjs/package.json')), 'dist/esm/index.js');
    b.onResolve({ filter: /^rxjs$/ }, () => ({ path: rxjsEsm }));
    b.onResolve({ filter: /^(prom-client|thread-stream|sonic-boom|@opentelemetry\/api)$/ }, (a) => ({ path: a.path, namespace: 'trimmed' }));
    b.onLoad({ filter: /.*/, namespace: 'trimmed' }, (a) => ({ contents: TRIMMED[a.path], resolveDir: root, loader: 'js' }));
  },
};

const result = await build({
  entryPoints: {
    flanneld: join(root, 'flanneld/src/main.ts'),
    // flannelctl too: from dist/ it reads ~600 modules, ~30 s in the nested kernel's emulated CPU.
    flannelctl: join(root, 'flanneld/src/ctl/main.ts'),
    // The packages' built entries, which is what flanneld's own imports of them resolve to (through their
    // package.json exports): from src/ these would be a second copy of core, with its own classes.
    core: join(root, 'core/dist/index.js'),
    'core-netlink': join(root, 'core/dist/netlink/index.js'),
    'core-ip': join(root, 'core/dist/ip/index.js'),
    backends: join(root, 'backends/dist/index.js'),
    'same-core-hooks': join(root, 'backends/src/same-core-hooks.ts'),
  },
  outdir: out,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['ffi-rs', '@kubernetes/client-node'],
  // Some dependencies are CommonJS and call require(); ESM output has none of its own.
  banner: { js: "import { createRequire as __flannelRequire } from 'node:module'; const require = __flannelRequire(import.meta.url);" },
  define: { FLANNELD_BUNDLED: 'true' },
  tsconfig: join(root, 'tsconfig.base.json'),
  legalComments: 'none',
  logLevel: 'error',
  plugins: [trimDependencies],
  write: false,
});

// A flanneld may be running from this folder while it is rebuilt (npm pack's prepack rebuilds it during
// the test suite; a suite in the nested kernel runs flanneld from it meanwhile), and it loads some chunks
// only when it needs them. So the folder is never emptied: a file whose bytes did not change is left
// alone, a changed one is replaced in one rename, and only files the new build no longer has are removed.
mkdirSync(out, { recursive: true });
const wanted = new Set();
for (const file of result.outputFiles) {
  const name = relative(out, file.path);
  wanted.add(name);
  if (existsSync(file.path) && readFileSync(file.path).equals(file.contents)) continue;
  const tmp = `${file.path}.${process.pid}.tmp`;
  writeFileSync(tmp, file.contents);
  renameSync(tmp, file.path);
}
for (const name of readdirSync(out)) if (!wanted.has(name)) rmSync(join(out, name), { recursive: true, force: true });

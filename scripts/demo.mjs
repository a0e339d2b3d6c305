// `npm run demo` will start a few flanneld nodes in network namespaces and ping pods across them.
// That needs the vxlan backend and the daemon (issue #4), which this build does not have yet, so it
// says so instead of pretending.
console.error(
  'flannel-ts: the demo is not available yet.\n' +
    'It needs the flanneld daemon and the vxlan backend, which are still being built (see README.md, "Status").\n' +
    'What works today: `npm test`.',
);
process.exit(2);

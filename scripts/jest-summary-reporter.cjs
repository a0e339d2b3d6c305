// Prints one plain closing line ("jest: N passed, N failed, N skipped") that CI tooling can read.
module.exports = class SummaryReporter {
  onRunComplete(_contexts, r) {
    process.stdout.write(`jest: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests} skipped\n`);
  }
};

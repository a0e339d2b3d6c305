#!/usr/bin/env node
// API reports of @flannel-ts/core's public entries (core/api/*.api.md), made by api-extractor from the built
// declarations, so that a change to the plugin surface shows in review.
//
//   node scripts/api-report.mjs           rewrite the reports (npm run api)
//   node scripts/api-report.mjs --check   fail if a report differs from the code (npm run api:check)
//
// Both need core built (npm run build). Every entry uses core/api-extractor.json; only the entry file and the
// report's name change.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Extractor, ExtractorConfig } from '@microsoft/api-extractor';

const core = fileURLToPath(new URL('../core/', import.meta.url));
const ENTRIES = [
  { entry: 'dist/index.d.ts', report: 'core' },
  { entry: 'dist/netlink/index.d.ts', report: 'core-netlink' },
  { entry: 'dist/ip/index.d.ts', report: 'core-ip' },
  { entry: 'dist/testing/index.d.ts', report: 'core-testing' },
];

const check = process.argv.includes('--check');
const configFile = path.join(core, 'api-extractor.json');
const base = ExtractorConfig.loadFile(configFile);
let failed = false;

for (const { entry, report } of ENTRIES) {
  if (!existsSync(path.join(core, entry))) {
    console.error(`api: core/${entry} is missing; run npm run build first`);
    process.exit(1);
  }
  const config = ExtractorConfig.prepare({
    configObject: { ...base, mainEntryPointFilePath: `<projectFolder>/${entry}`, apiReport: { ...base.apiReport, reportFileName: report } },
    configObjectFullPath: configFile,
    packageJsonFullPath: path.join(core, 'package.json'),
  });
  const messages = [];
  const result = Extractor.invoke(config, {
    localBuild: !check,
    // The outcome is reported below; api-extractor's own chatter (which TypeScript it bundles, where the
    // report went) is dropped, and its warnings and errors are printed.
    messageCallback: (m) => {
      m.handled = true;
      if (m.logLevel === 'warning' || m.logLevel === 'error') messages.push(m.formatMessageWithLocation(core));
    },
  });
  const file = `core/api/${report}.api.md`;
  if (result.apiReportChanged) {
    failed ||= check;
    console.error(check ? `api: ${file} differs from the code. Run npm run api and commit the report.` : `api: ${file} updated`);
  }
  const problems = messages.filter((m) => !/You have changed the (public )?API signature|The API report file was missing/.test(m));
  for (const m of problems) console.error(`api: ${m}`);
  if (result.errorCount > 0 || problems.length > 0) failed = true;
}
if (failed) process.exit(1);
console.log(check ? 'api: reports match the code' : 'api: reports up to date');

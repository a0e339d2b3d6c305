// Entry point of both builds. The single executable is built from a V8 startup snapshot: this module runs
// once at build time, when only the main function is registered, and `main` runs in each plugin process.
import { startupSnapshot } from 'node:v8';
import { main } from './main.js';

if (startupSnapshot?.isBuildingSnapshot()) startupSnapshot.setDeserializeMainFunction(main);
else main();

// Entry point of both builds: the single executable (scripts/bundle-cni.mjs) and the development script.
import { main } from './main.js';

main();

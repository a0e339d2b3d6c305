// The worker thread's entry: the data path loop, off the daemon's event loop. See proxy-loop.ts.
import { workerData } from 'node:worker_threads';
import { ProxyLoop, type ProxyInit } from './proxy-loop.js';

new ProxyLoop(workerData as ProxyInit).run();

// The control thread's handle on the data path: the worker that runs proxy-loop.ts.
import { existsSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel, Worker } from 'node:worker_threads';
import { newCounterBuffer, readCounters, type ProxyCounters } from './counters.js';
import { closeFd, openEventFd } from './native.js';
import type { PeerTableOp } from './peer-table.js';
import { CONTROL_FLAG, QUEUE_STATE, type ProxyCommand, type ProxyInit, type ProxyNotice } from './proxy-loop.js';

/** What the data path is started with. It takes over both fds: it closes them when it stops. */
export interface DataPathInit {
  tunFd: number;
  udpFd: number;
  ownNet: number;
  ownMask: number;
  tunIp: number;
  mtu: number;
  /** Send runs of packets to one peer as UDP GSO messages. */
  gso: boolean;
}

/** The data path as the control plane drives it; the unit tests put a fake in its place. */
export interface DataPath {
  /** Resolves once it forwards packets. */
  start(): Promise<void>;
  /** Changes to the peer table, applied in order, before the next packet is looked up. */
  update(ops: PeerTableOp[]): void;
  /**
   * flannel0 was recreated (or its queue failed): read and write this fd from now on (the old one is
   * closed). Settles once the data path reads the new queue, so that what follows sees traffic flow.
   */
  replaceTun(fd: number): Promise<void>;
  /** Whether the data path gave up the last queue it was handed (its device went away) and has no other. */
  queueLost(): boolean;
  counters(): ProxyCounters;
  /** Notices from the data path: flannel0's fd failed, GSO was turned off. */
  onNotice(listener: (n: ProxyNotice) => void): void;
  /** Settles when the data path ends: resolves after stop(), rejects if it fails. */
  readonly ended: Promise<void>;
  stop(): Promise<void>;
}

/**
 * The compiled worker: beside this module in dist/, in dist/ when tests run the sources, and through the
 * package when this code is bundled into flanneld (the worker is a file of its own, loaded from the package).
 */
export function workerFile(): string {
  const here = fileURLToPath(import.meta.url);
  const dir = dirname(here);
  if (here.endsWith('.ts')) return join(dir, '..', 'dist', 'proxy-worker.js');
  const beside = join(dir, 'proxy-worker.js');
  if (existsSync(beside)) return beside;
  return join(dirname(createRequire(import.meta.url).resolve('@flannel-ts/udp/package.json')), 'dist', 'proxy-worker.js');
}

const WAKE = Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]);
/** How long stop() waits for the worker to finish its round and close its fds before terminating it. */
const STOP_GRACE_MS = 5000;
/** How long replaceTun waits for the worker to take the new queue (it does so within one poll round). */
const ATTACH_WAIT_MS = 5000;

/** The data path on a worker thread: commands go through a MessagePort, plus a flag and an eventfd that wake its poll(). */
export class WorkerDataPath implements DataPath {
  private readonly channel = new MessageChannel();
  private readonly counterBuf = newCounterBuffer();
  private readonly counterView = new Float64Array(this.counterBuf);
  private readonly control = new Int32Array(new SharedArrayBuffer(8));
  private readonly listeners: ((n: ProxyNotice) => void)[] = [];
  /** The generation of the last queue handed to the worker (see ProxyInit.control). */
  private tunGen = 1;
  private eventFd = -1;
  private worker: Worker | undefined;
  private stopped = false;
  readonly ended: Promise<void>;
  private settle!: { resolve: () => void; reject: (err: Error) => void };

  constructor(private readonly init: DataPathInit) {
    this.ended = new Promise<void>((resolve, reject) => (this.settle = { resolve, reject }));
    // Nobody may be listening yet when it fails; the failure is still reported through `ended`.
    this.ended.catch(() => undefined);
  }

  async start(): Promise<void> {
    this.eventFd = openEventFd();
    const init: ProxyInit = {
      ...this.init,
      eventFd: this.eventFd,
      port: this.channel.port2,
      counters: this.counterBuf,
      control: this.control.buffer as SharedArrayBuffer,
    };
    const ready = new Promise<void>((resolve, reject) => {
      this.channel.port1.on('message', (n: ProxyNotice) => {
        if (n.type === 'ready') resolve();
        for (const l of this.listeners) l(n);
      });
      const worker = new Worker(workerFile(), { workerData: init, transferList: [this.channel.port2] });
      this.worker = worker;
      worker.on('error', (err) => {
        reject(err);
        this.settle.reject(new Error(`the udp data path failed: ${err.message}`));
      });
      worker.on('exit', (code) => {
        this.channel.port1.close();
        closeFd(this.eventFd);
        this.eventFd = -1;
        if (this.stopped) this.settle.resolve();
        else {
          const err = new Error(`the udp data path stopped by itself (exit code ${code})`);
          reject(err);
          this.settle.reject(err);
        }
      });
    });
    await ready;
  }

  update(ops: PeerTableOp[]): void {
    if (ops.length > 0) this.post({ type: 'peers', ops });
  }

  async replaceTun(fd: number): Promise<void> {
    if (this.eventFd < 0) {
      closeFd(fd);
      return;
    }
    const gen = ++this.tunGen;
    let listener: ((n: ProxyNotice) => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    const attached = new Promise<void>((resolve) => {
      listener = (n) => n.type === 'tun-attached' && n.gen >= gen && resolve();
      this.listeners.push(listener);
      timer = setTimeout(resolve, ATTACH_WAIT_MS);
    });
    this.post({ type: 'tun', fd, gen });
    try {
      await Promise.race([attached, this.ended.catch(() => undefined)]);
    } finally {
      clearTimeout(timer);
      this.listeners.splice(this.listeners.indexOf(listener!), 1);
    }
  }

  queueLost(): boolean {
    // The worker writes minus the generation it lost; a loss of an older queue while a newer one is on its
    // way is no loss.
    return Atomics.load(this.control, QUEUE_STATE) === -this.tunGen;
  }

  counters(): ProxyCounters {
    return readCounters(this.counterView);
  }

  onNotice(listener: (n: ProxyNotice) => void): void {
    this.listeners.push(listener);
  }

  async stop(): Promise<void> {
    if (this.stopped) return this.ended;
    this.stopped = true;
    const worker = this.worker;
    if (!worker) {
      closeFd(this.init.tunFd);
      closeFd(this.init.udpFd);
      this.settle.resolve();
      return;
    }
    this.post({ type: 'stop' });
    const timer = setTimeout(() => void worker.terminate(), STOP_GRACE_MS);
    try {
      await this.ended.catch(() => undefined);
    } finally {
      clearTimeout(timer);
    }
  }

  private post(cmd: ProxyCommand): void {
    if (this.eventFd < 0) return;
    this.channel.port1.postMessage(cmd);
    Atomics.store(this.control, CONTROL_FLAG, 1);
    writeSync(this.eventFd, WAKE);
  }
}

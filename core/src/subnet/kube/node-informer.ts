import { concat, defer, Observable, of, share } from 'rxjs';
import type { Clock } from '../../contracts/clock.js';
import type { Logger } from '../../contracts/logger.js';
import { retryWithBackoff } from '../../util/retry.js';
import type { KubeAnnotations } from './annotations.js';
import { isGone, type KubeApi, type NodeWatchEvent } from './kube-api.js';
import { nodeView, type NodeView } from './node-lease.js';

/** A listing (the first, or a re-list after 410 Gone): every node there is. Then changes, in order. */
export type InformerUpdate =
  | { kind: 'snapshot'; nodes: NodeView[]; resourceVersion: string }
  | { kind: 'changes'; changes: { type: 'upsert' | 'delete'; node: NodeView; old: NodeView | undefined }[] };

export interface InformerOptions {
  clock: Clock;
  /** Nodes per list page. */
  pageSize?: number;
  /** The server ends each watch after a random time in [minWatchSeconds, 2 × minWatchSeconds), as client-go does. */
  minWatchSeconds?: number;
  random?: () => number;
  /** Told of every (re)list: 'initial', 'gone' (410), 'error'. For logs and tests. */
  onList?: (why: 'initial' | 'gone' | 'error', nodes: number) => void;
  /** Told of each list or watch failure, and of the next success (undefined): whether the API server answers. */
  onResult?: (err: Error | undefined) => void;
}

/**
 * Nodes by list + watch, as client-go's reflector does: a paged list, then a watch from its
 * resourceVersion with bookmarks; a watch the server ends is resumed from the last resourceVersion seen,
 * a failed one after a doubling delay (100 ms to 30 s), and a 410 Gone (the resourceVersion fell out of
 * the server's window) means a re-list, reported as a new snapshot. There is no periodic resync: a
 * watch misses nothing, and a re-list re-applies nothing that did not change.
 *
 * One list + watch serves every subscriber; one that comes late starts from a snapshot of the cache.
 */
export class NodeInformer {
  private readonly cache = new Map<string, NodeView>();
  private synced = false;
  private lastResourceVersion = '';
  private readonly shared: Observable<InformerUpdate>;

  constructor(
    private readonly api: KubeApi,
    private readonly ann: KubeAnnotations,
    private readonly logger: Logger,
    private readonly o: InformerOptions,
  ) {
    this.shared = new Observable<InformerUpdate>((sub) => {
      const ac = new AbortController();
      this.run(ac.signal, (u) => sub.next(u)).then(
        () => sub.complete(),
        (err) => sub.error(err),
      );
      return () => {
        ac.abort();
        this.synced = false;
      };
    }).pipe(share());
  }

  /** Snapshot first (from the cache when the list + watch already runs), then changes. */
  updates(): Observable<InformerUpdate> {
    return defer(() => (this.synced ? concat(of(this.snapshot()), this.shared) : this.shared));
  }

  /** The node as last seen, while the informer runs. */
  get(name: string): NodeView | undefined {
    return this.synced ? this.cache.get(name) : undefined;
  }

  get isSynced(): boolean {
    return this.synced;
  }

  private snapshot(): InformerUpdate {
    return { kind: 'snapshot', nodes: [...this.cache.values()], resourceVersion: this.lastResourceVersion };
  }

  private async run(signal: AbortSignal, emit: (u: InformerUpdate) => void): Promise<void> {
    const { clock } = this.o;
    let why: 'initial' | 'gone' | 'error' = 'initial';
    const onError = (what: string) => (err: unknown, retryInMs: number) => {
      this.o.onResult?.(err as Error);
      this.logger.warn({ server: this.api.server, err: (err as Error).message, retryInMs }, `${what} failed; retrying`);
    };
    while (!signal.aborted) {
      const listed = await retryWithBackoff((s) => this.list(s), signal, { clock, maxMs: 30_000, onError: onError('listing nodes') });
      if (!listed) return;
      this.cache.clear();
      for (const n of listed.nodes) this.cache.set(n.name, n);
      this.lastResourceVersion = listed.resourceVersion;
      this.synced = true;
      this.o.onResult?.(undefined);
      this.o.onList?.(why, listed.nodes.length);
      emit({ kind: 'snapshot', nodes: listed.nodes, resourceVersion: listed.resourceVersion });
      // Watch until the resourceVersion is gone (then list again) or we are stopped.
      for (;;) {
        const outcome = await retryWithBackoff((s) => this.watchOnce(s, emit), signal, { clock, maxMs: 30_000, onError: onError('watching nodes') });
        if (outcome === undefined) return;
        if (outcome === 'gone') break;
      }
      why = 'gone';
      this.logger.info({ resourceVersion: this.lastResourceVersion }, 'the node watch expired (410 Gone); listing nodes again');
    }
  }

  private async list(signal: AbortSignal): Promise<{ nodes: NodeView[]; resourceVersion: string }> {
    const nodes: NodeView[] = [];
    let cont: string | undefined;
    for (;;) {
      try {
        const page = await this.api.listNodes({ limit: this.o.pageSize ?? 500, ...(cont ? { continue: cont } : {}) }, signal);
        for (const n of page.items) nodes.push(nodeView(n, this.ann));
        cont = page.metadata.continue || undefined;
        if (!cont) return { nodes, resourceVersion: page.metadata.resourceVersion };
      } catch (err) {
        // An expired continue token: start the list over, at once.
        if (!isGone(err) || !cont) throw err;
        nodes.length = 0;
        cont = undefined;
      }
    }
  }

  /**
   * One watch: 'ended' when the server closes it (resume), 'gone' after 410, an error otherwise. A watch
   * that delivered events before it broke counts as having ended, so the next one starts without delay.
   */
  private async watchOnce(signal: AbortSignal, emit: (u: InformerUpdate) => void): Promise<'ended' | 'gone'> {
    const min = this.o.minWatchSeconds ?? 300;
    const timeoutSeconds = Math.floor(min * (1 + (this.o.random ?? Math.random)()));
    let progressed = false;
    try {
      await this.api.watchNodes(
        { resourceVersion: this.lastResourceVersion, timeoutSeconds },
        signal,
        (events) => {
          progressed = true;
          this.apply(events, emit);
        },
        () => this.o.onResult?.(undefined),
      );
      return 'ended';
    } catch (err) {
      if (isGone(err)) return 'gone';
      if (progressed && !signal.aborted) {
        this.logger.debug({ err: (err as Error).message }, 'the node watch broke; resuming');
        return 'ended';
      }
      throw err;
    }
  }

  private apply(events: NodeWatchEvent[], emit: (u: InformerUpdate) => void): void {
    const changes: Extract<InformerUpdate, { kind: 'changes' }>['changes'] = [];
    for (const ev of events) {
      const rv = ev.node.metadata.resourceVersion;
      if (rv) this.lastResourceVersion = rv;
      if (ev.type === 'BOOKMARK') continue;
      const view = nodeView(ev.node, this.ann);
      const old = this.cache.get(view.name);
      if (ev.type === 'DELETED') {
        this.cache.delete(view.name);
        changes.push({ type: 'delete', node: old ?? view, old });
      } else {
        this.cache.set(view.name, view);
        changes.push({ type: 'upsert', node: view, old });
      }
    }
    if (changes.length) emit({ kind: 'changes', changes });
  }
}

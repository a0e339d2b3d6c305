import { KubeApiError, type KubeApi, type KubeList, type KubeNode, type ListOptions, type NodeWatchEvent, type WatchOptions } from './kube-api.js';

/**
 * An in-memory KubeApi for unit tests: nodes with resourceVersions, a strategic merge of annotations and
 * conditions, paged lists, and watches that a test can end or expire (410). Integration tests use a real
 * API server instead.
 */
export class FakeKubeApi implements KubeApi {
  readonly server = 'https://fake';
  readonly nodes = new Map<string, KubeNode>();
  readonly patches: { name: string; patch: object }[] = [];
  /** Calls per method, for tests that count requests. */
  readonly calls = { list: 0, watch: 0, get: 0, patch: 0 };
  /** Make the next n requests fail as a refused connection would. */
  failNext = 0;
  private rv = 1;
  private readonly history: NodeWatchEvent[] = [];
  private watchers = new Set<{ from: number; push: (e: NodeWatchEvent[]) => void; end: (err?: Error) => void }>();

  put(node: KubeNode, type: 'ADDED' | 'MODIFIED' = this.nodes.has(node.metadata.name) ? 'MODIFIED' : 'ADDED'): KubeNode {
    const stored = structuredClone(node);
    stored.metadata.resourceVersion = String(++this.rv);
    this.nodes.set(stored.metadata.name, stored);
    this.emit({ type, node: stored });
    return stored;
  }

  delete(name: string): void {
    const node = this.nodes.get(name);
    if (!node) return;
    this.nodes.delete(name);
    const gone = structuredClone(node);
    gone.metadata.resourceVersion = String(++this.rv);
    this.emit({ type: 'DELETED', node: gone });
  }

  /** Ends every watch as the server does at its timeout. */
  endWatches(): void {
    for (const w of [...this.watchers]) w.end();
  }

  /** A write no node watch sees (another object), then a BOOKMARK to every watch with the new resourceVersion. */
  bookmark(): void {
    const rv = String(++this.rv);
    for (const w of this.watchers) w.push([{ type: 'BOOKMARK', node: { metadata: { name: '', resourceVersion: rv } } }]);
  }

  /** Forgets the event history: resuming from any older resourceVersion now answers 410 Gone. */
  compact(): void {
    this.history.length = 0;
  }

  get watching(): number {
    return this.watchers.size;
  }

  async getNode(name: string): Promise<KubeNode> {
    this.calls.get++;
    this.maybeFail();
    const n = this.nodes.get(name);
    if (!n) throw new KubeApiError(404, 'NotFound', `nodes "${name}" not found`);
    return structuredClone(n);
  }

  async getPod(namespace: string, name: string): Promise<{ spec?: { nodeName?: string } }> {
    this.maybeFail();
    if (namespace === 'kube-flannel' && name === 'flannel-pod') return { spec: { nodeName: 'node-of-pod' } };
    throw new KubeApiError(404, 'NotFound', `pods "${name}" not found`);
  }

  async listNodes(opts: ListOptions): Promise<KubeList<KubeNode>> {
    this.calls.list++;
    this.maybeFail();
    const all = [...this.nodes.values()].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
    const start = opts.continue ? Number(opts.continue) : 0;
    const end = opts.limit ? start + opts.limit : all.length;
    return {
      items: structuredClone(all.slice(start, end)),
      metadata: { resourceVersion: String(this.rv), ...(end < all.length ? { continue: String(end) } : {}) },
    };
  }

  watchNodes(opts: WatchOptions, signal: AbortSignal, onEvents: (events: NodeWatchEvent[]) => void, onOpen?: () => void): Promise<void> {
    this.calls.watch++;
    try {
      this.maybeFail();
    } catch (err) {
      return Promise.reject(err);
    }
    const from = Number(opts.resourceVersion);
    const oldest = this.history[0] ? Number(this.history[0].node.metadata.resourceVersion) : this.rv + 1;
    if (from < oldest - 1 && from < this.rv) return Promise.reject(new KubeApiError(410, 'Expired', `too old resource version: ${from}`));
    return new Promise((resolve, reject) => {
      const w = {
        from,
        push: (events: NodeWatchEvent[]) => onEvents(events),
        end: (err?: Error) => {
          this.watchers.delete(w);
          if (err) reject(err);
          else resolve();
        },
      };
      this.watchers.add(w);
      signal.addEventListener('abort', () => w.end(signal.reason as Error), { once: true });
      onOpen?.();
      const missed = this.history.filter((e) => Number(e.node.metadata.resourceVersion) > from);
      if (missed.length) onEvents(structuredClone(missed));
    });
  }

  async patchNodeStatus(name: string, patch: { metadata?: { annotations?: Record<string, string> }; status?: { conditions?: object[] } }): Promise<KubeNode> {
    this.calls.patch++;
    this.maybeFail();
    const node = this.nodes.get(name);
    if (!node) throw new KubeApiError(404, 'NotFound', `nodes "${name}" not found`);
    this.patches.push({ name, patch: structuredClone(patch) });
    const next = structuredClone(node);
    if (patch.metadata?.annotations) next.metadata.annotations = { ...next.metadata.annotations, ...patch.metadata.annotations };
    for (const c of (patch.status?.conditions ?? []) as { type: string; status: string }[]) {
      const conditions = (next.status ??= {}).conditions ?? [];
      next.status.conditions = [...conditions.filter((x) => x.type !== c.type), c];
    }
    return this.put(next, 'MODIFIED');
  }

  close(): void {
    for (const w of [...this.watchers]) w.end();
  }

  private emit(ev: NodeWatchEvent): void {
    this.history.push(ev);
    for (const w of this.watchers) w.push([structuredClone(ev)]);
  }

  private maybeFail(): void {
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('connect ECONNREFUSED 127.0.0.1:6443');
    }
  }
}

/**
 * The part of the Kubernetes API the subnet manager uses, as an interface: HttpKubeApi talks to a real API
 * server, and unit tests pass a small in-memory fake. Objects are plain JSON, typed only as far as we read them.
 */
export interface KubeNodeCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastHeartbeatTime?: string;
  lastTransitionTime?: string;
}

export interface KubeNode {
  metadata: { name: string; resourceVersion?: string; annotations?: Record<string, string> };
  spec?: { podCIDR?: string; podCIDRs?: string[] };
  status?: { conditions?: KubeNodeCondition[] };
}

export interface KubeList<T> {
  items: T[];
  metadata: { resourceVersion: string; continue?: string };
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';

/** One event of a watch stream; BOOKMARK carries only the resourceVersion to resume from. */
export interface NodeWatchEvent {
  type: WatchEventType;
  node: KubeNode;
}

export interface ListOptions {
  limit?: number;
  continue?: string;
  /** "0": any cached state is fine (served by the API server's watch cache); unset: a consistent read. */
  resourceVersion?: string;
}

export interface WatchOptions {
  resourceVersion: string;
  /** The server ends the watch after this long (client-go asks for 5 to 10 minutes). */
  timeoutSeconds: number;
}

export interface KubeApi {
  /** The API server's URL, for logs. */
  readonly server: string;
  getNode(name: string, signal: AbortSignal): Promise<KubeNode>;
  getPod(namespace: string, name: string, signal: AbortSignal): Promise<{ spec?: { nodeName?: string } }>;
  listNodes(opts: ListOptions, signal: AbortSignal): Promise<KubeList<KubeNode>>;
  /**
   * Streams node events from `resourceVersion` (with bookmarks), handing each chunk's events over together.
   * Resolves when the server ends the watch; rejects with a KubeApiError, status 410 when the resourceVersion
   * is too old (whether the server says so in the response status or as an ERROR event). `onOpen` is called
   * once the server has accepted the watch.
   */
  watchNodes(opts: WatchOptions, signal: AbortSignal, onEvents: (events: NodeWatchEvent[]) => void, onOpen?: () => void): Promise<void>;
  /** A strategic-merge patch of the node's status subresource (annotations included), as Go flannel sends. */
  patchNodeStatus(name: string, patch: object, signal: AbortSignal): Promise<KubeNode>;
  close(): void;
}

/** An error answer from the API server (or its watch stream): the HTTP status and the Status reason. */
export class KubeApiError extends Error {
  override readonly name = 'KubeApiError';
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export const isNotFound = (err: unknown): boolean => err instanceof KubeApiError && err.status === 404;
/** 410 Gone: the resourceVersion (or a list's continue token) is older than the server keeps. */
export const isGone = (err: unknown): boolean => err instanceof KubeApiError && err.status === 410;
export const isForbidden = (err: unknown): boolean => err instanceof KubeApiError && (err.status === 403 || err.status === 401);

import type { StatusDocument } from '../daemon-state.js';
import type { DiffDocument } from '../healthz.js';

/** Where flannelctl finds flanneld: its health listener (--healthz-ip/--healthz-port). */
export const DEFAULT_ENDPOINT = 'http://127.0.0.1:8081';

export class CtlError extends Error {
  override readonly name = 'CtlError';
}

/** flanneld's JSON endpoints, over HTTP. */
export class FlanneldClient {
  constructor(readonly endpoint: string) {}

  status(): Promise<StatusDocument> {
    return this.get<StatusDocument>('/debug/status');
  }

  diff(): Promise<DiffDocument> {
    return this.get<DiffDocument>('/debug/diff');
  }

  private async get<T>(path: string): Promise<T> {
    let res: Response;
    try {
      res = await fetch(new URL(path, this.endpoint), { signal: AbortSignal.timeout(10_000) });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new CtlError(
        `cannot reach flanneld at ${this.endpoint}: ${cause?.code ?? cause?.message ?? (err as Error).message}; ` +
          'is it running with --healthz-port (and --healthz-ip) set? Point flannelctl at it with --endpoint http://IP:PORT',
      );
    }
    if (res.status === 404) throw new CtlError(`${this.endpoint} answered 404 for ${path}: is that flanneld from flannel-ts?`);
    if (!res.ok) throw new CtlError(`${this.endpoint}${path} answered ${res.status}: ${(await res.text()).trim()}`);
    return (await res.json()) as T;
  }
}

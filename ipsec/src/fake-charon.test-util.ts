// A charon for the unit tests: what it was given over "VICI" (PSKs, connections), SAs the test makes up,
// and a kill() that ends its session as charon's death does.
import type { ViciSection } from '@flannel-ts/vici';
import type { CharonInstance, CharonLauncher } from './charon.js';
import type { IkeSaState, IkeSession } from './ike.js';

export class FakeCharonDaemon {
  readonly shared = new Map<string, { owners: string[]; psk: string }>();
  readonly conns = new Map<string, ViciSection>();
  sas: IkeSaState[] = [];
  /** Requests charon refuses, with its error (which may quote what it was sent, PSK included). */
  refuse: ((op: string, arg: string) => string | undefined) | undefined;
  readonly closed: Promise<void>;
  private end!: () => void;
  private ended = false;
  readonly exited: Promise<string>;
  private exit!: (how: string) => void;

  constructor(readonly pid: number) {
    this.closed = new Promise((r) => (this.end = r));
    this.exited = new Promise((r) => (this.exit = r));
  }

  private check(op: string, arg: string): void {
    if (this.ended) throw new Error(`"${op}" was not sent: the vici connection is closed`);
    const why = this.refuse?.(op, arg);
    if (why) throw new Error(`charon: ${op} failed: ${why}`);
  }

  async loadShared(id: string, owners: string[], psk: { reveal(): string }): Promise<void> {
    this.check('load-shared', psk.reveal());
    this.shared.set(id, { owners, psk: psk.reveal() });
  }
  async unloadShared(id: string): Promise<void> {
    this.check('unload-shared', id);
    this.shared.delete(id);
  }
  async loadConn(name: string, conn: ViciSection): Promise<void> {
    this.check('load-conn', name);
    this.conns.set(name, conn);
  }
  async unloadConn(name: string): Promise<void> {
    this.check('unload-conn', name);
    if (!this.conns.delete(name)) throw new Error(`unload: connection '${name}' not found`);
  }
  async listSas(): Promise<IkeSaState[]> {
    this.check('list-sas', '');
    return this.sas;
  }
  close(): void {
    this.ended = true;
    this.end();
  }
  /** charon dies: its socket closes, the process is gone. */
  kill(): void {
    this.exit('killed by SIGKILL');
    this.close();
  }
}

/** A launcher that starts FakeCharonDaemons; `daemons` are all it started, the last one running. */
export class FakeCharon {
  readonly daemons: FakeCharonDaemon[] = [];
  /** Makes the next starts fail (charon missing, crashing at once). */
  failStarts = 0;

  get current(): FakeCharonDaemon {
    return this.daemons[this.daemons.length - 1]!;
  }

  readonly launch: CharonLauncher = async () => {
    if (this.failStarts > 0) {
      this.failStarts--;
      throw new Error('charon exited with code 1 before opening its VICI socket');
    }
    const d = new FakeCharonDaemon(1000 + this.daemons.length);
    this.daemons.push(d);
    const session: IkeSession = {
      loadShared: (id, owners, psk) => d.loadShared(id, owners, psk),
      unloadShared: (id) => d.unloadShared(id),
      loadConn: (name, conn) => d.loadConn(name, conn),
      unloadConn: (name) => d.unloadConn(name),
      conns: async () => [...d.conns.keys()],
      listSas: () => d.listSas(),
      closed: d.closed,
      close: () => d.close(),
    };
    const instance: CharonInstance = {
      session,
      pid: d.pid,
      exited: d.exited,
      stop: async () => d.kill(),
    };
    return instance;
  };
}

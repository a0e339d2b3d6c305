import { setImmediate as nextTurn } from 'node:timers/promises';
import { MessagePacer, MS_PER_TURN, PAUSE_ABOVE } from './message-pacer.js';

function setup() {
  const got: number[] = [];
  const flow: string[] = [];
  const failures: Error[] = [];
  let throwOn: number | undefined;
  // Each message takes 1 ms to hand on, or its size in KB when it is bigger.
  let clock = 0;
  const pacer = new MessagePacer(
    (m) => {
      clock += Math.max(1, m.length / 1024);
      if (m[0] === throwOn) throw new Error('bad message');
      got.push(m[0]!);
    },
    { pause: () => flow.push('pause'), resume: () => flow.push('resume'), failed: (err) => failures.push(err) },
    () => clock,
  );
  const msg = (id: number, size = 1000) => Buffer.alloc(size, id);
  return { pacer, got, flow, failures, msg, throwOn: (id: number) => (throwOn = id) };
}

describe('MessagePacer', () => {
  it('hands a quiet stream’s message on at once', () => {
    const t = setup();
    t.pacer.push(t.msg(1));
    expect(t.got).toEqual([1]);
  });

  it('hands a burst on in order, for at most a turn’s budget of time each turn', async () => {
    const t = setup();
    const perTurn = MS_PER_TURN; // 1 ms each
    const n = 3 * perTurn + 1;
    for (let i = 0; i < n; i++) t.pacer.push(t.msg(i % 256));
    expect(t.got).toHaveLength(perTurn);
    const seen: number[] = [t.got.length];
    while (t.got.length < n) {
      await nextTurn();
      seen.push(t.got.length - seen.reduce((a, b) => a + b, 0));
    }
    expect(Math.max(...seen)).toBeLessThanOrEqual(perTurn);
    expect(seen.length).toBeGreaterThanOrEqual(3);
    expect(t.got).toEqual(Array.from({ length: n }, (_, i) => i % 256));
  });

  it('finishes the message that crosses the budget, and waits with the next', async () => {
    const t = setup();
    t.pacer.push(t.msg(1, 10));
    t.pacer.push(t.msg(2, 1024 * MS_PER_TURN * 2));
    t.pacer.push(t.msg(3, 10));
    expect(t.got).toEqual([1, 2]);
    await nextTurn(); // this turn's check phase: its budget is spent
    expect(t.got).toEqual([1, 2]);
    await nextTurn();
    expect(t.got).toEqual([1, 2, 3]);
  });

  it('pauses the stream while too much waits, and resumes it once all is handed on', async () => {
    const t = setup();
    const n = Math.ceil(PAUSE_ABOVE / 1000) + 40;
    for (let i = 0; i < n; i++) t.pacer.push(t.msg(i % 256));
    expect(t.flow).toEqual(['pause']);
    while (t.got.length < n) await nextTurn();
    expect(t.flow).toEqual(['pause', 'resume']);
  });

  it('counts what was handed on at once against the turn: its check phase waits for the next', async () => {
    const t = setup();
    for (let i = 0; i < 2 * MS_PER_TURN; i++) t.pacer.push(t.msg(i));
    expect(t.got).toHaveLength(MS_PER_TURN);
    await nextTurn();
    expect(t.got).toHaveLength(MS_PER_TURN);
    await nextTurn();
    expect(t.got).toHaveLength(2 * MS_PER_TURN);
  });

  it('lets a paused stream flow again when it is stopped, so that it can end', () => {
    const t = setup();
    for (let i = 0; i < Math.ceil(PAUSE_ABOVE / 1000) + 40; i++) t.pacer.push(t.msg(i % 256));
    expect(t.flow).toEqual(['pause']);
    t.pacer.stop();
    expect(t.flow).toEqual(['pause', 'resume']);
  });

  it('runs what waits for the drain after the messages before it', async () => {
    const t = setup();
    for (let i = 0; i < 100; i++) t.pacer.push(t.msg(i));
    let drainedAt = -1;
    t.pacer.afterDrained(() => (drainedAt = t.got.length));
    expect(drainedAt).toBe(-1);
    while (drainedAt < 0) await nextTurn();
    expect(drainedAt).toBe(100);
    let again = false;
    t.pacer.afterDrained(() => (again = true));
    expect(again).toBe(true);
  });

  it('stops at a message its handler throws on, says so, and drops the rest', async () => {
    const t = setup();
    t.throwOn(50);
    for (let i = 0; i < 100; i++) t.pacer.push(t.msg(i));
    let drained = false;
    t.pacer.afterDrained(() => (drained = true));
    while (!drained) await nextTurn();
    expect(t.got).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(t.failures.map((e) => e.message)).toEqual(['bad message']);
    t.pacer.push(t.msg(200));
    await nextTurn();
    expect(t.got).not.toContain(200);
  });
});

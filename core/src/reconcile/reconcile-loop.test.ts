import { RecordingLogger } from '../testing/recording-logger.js';
import { ReconcileLoop } from './reconcile-loop.js';

const tick = () => new Promise((r) => setImmediate(r));

describe('ReconcileLoop', () => {
  it('coalesces triggers that arrive while a reconcile runs into one more, with all their reasons', async () => {
    const runs: string[][] = [];
    let release!: () => void;
    const loop = new ReconcileLoop(async (reasons) => {
      runs.push(reasons);
      if (runs.length === 1) await new Promise<void>((r) => (release = r));
    }, new RecordingLogger());
    loop.trigger('a');
    await tick();
    loop.trigger('b');
    loop.trigger('c');
    loop.trigger('b');
    release();
    for (let i = 0; i < 10 && runs.length < 2; i++) await tick();
    await loop.stop();
    expect(runs).toEqual([['a'], ['b', 'c']]);
  });

  it('runs queued jobs and reconciles one at a time, in order, and logs a failed job without stopping', async () => {
    const order: string[] = [];
    const logger = new RecordingLogger();
    const loop = new ReconcileLoop(async () => void order.push('reconcile'), logger);
    void loop.enqueue(async () => void order.push('job1'));
    void loop.enqueue(async () => {
      throw new Error('boom');
    });
    loop.trigger('x');
    await loop.enqueue(async () => void order.push('job2'));
    await loop.stop();
    expect(order).toEqual(['job1', 'reconcile', 'job2']);
    expect(logger.messages('error')).toEqual(['kernel update failed']);
  });

  it('ignores triggers after stop', async () => {
    let runs = 0;
    const loop = new ReconcileLoop(async () => void runs++, new RecordingLogger());
    await loop.stop();
    loop.trigger('late');
    await tick();
    expect(runs).toBe(0);
  });
});

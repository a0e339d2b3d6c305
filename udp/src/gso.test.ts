import { MAX_GSO_SEGMENTS, planMessages } from './gso.js';

const hopsOf: Record<string, { noGso?: boolean }> = { a: {}, b: {}, slow: { noGso: true } };

function plan(hops: string[], lens: number[], gso = true, from = 0, at = 0): [number, number][] {
  const firsts: number[] = [];
  const counts: number[] = [];
  const end = planMessages(
    hops.map((h) => hopsOf[h]),
    lens,
    from,
    hops.length,
    gso,
    firsts,
    counts,
    at,
  );
  return Array.from({ length: end - at }, (_, i) => [firsts[at + i]!, counts[at + i]!]);
}

describe('planMessages', () => {
  it('joins runs of one size to one peer, with a shorter last one, as UDP GSO requires', () => {
    expect(plan(['a', 'a', 'a', 'b', 'b', 'a'], [1472, 1472, 900, 1472, 1472, 1472])).toEqual([
      [0, 3],
      [3, 2],
      [5, 1],
    ]);
    // A longer packet after the run starts a message of its own; so does a shorter one after a shorter one.
    expect(plan(['a', 'a', 'a', 'a'], [100, 100, 1472, 1472])).toEqual([
      [0, 2],
      [2, 2],
    ]);
    expect(plan(['a', 'a', 'a'], [1472, 60, 60])).toEqual([
      [0, 2],
      [2, 1],
    ]);
  });

  it('sends every packet on its own without GSO', () => {
    expect(plan(['a', 'a'], [1472, 1472], false)).toEqual([
      [0, 1],
      [1, 1],
    ]);
  });

  it('sends singly to a peer on whose way GSO was refused, and plans from any packet into any message slot', () => {
    expect(plan(['slow', 'slow', 'a', 'a'], [1472, 1472, 1472, 1472])).toEqual([
      [0, 1],
      [1, 1],
      [2, 2],
    ]);
    expect(plan(['a', 'a', 'a', 'a'], [1472, 1472, 1472, 1472], true, 2, 5)).toEqual([[2, 2]]);
  });

  it('keeps a message within 64 segments and one datagram’s 65,507 bytes', () => {
    const n = 200;
    const big = plan(Array<string>(n).fill('a'), Array<number>(n).fill(1472));
    expect(big.map(([, c]) => c)).toEqual([44, 44, 44, 44, 24]);
    const small = plan(Array<string>(n).fill('a'), Array<number>(n).fill(60));
    expect(small.map(([, c]) => c)).toEqual([MAX_GSO_SEGMENTS, MAX_GSO_SEGMENTS, MAX_GSO_SEGMENTS, 8]);
  });
});

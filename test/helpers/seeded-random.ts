/*
 * Randomness a failing test can replay: a small seeded PRNG, and the seed of a random run.
 */

/** mulberry32: the same seed gives the same numbers in [0, 1), in the same order. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed for a random test: KUUERI_ATTACK_SEED when set (to replay a run), else a fresh one. */
export function attackSeed(): number {
  const fromEnv = Number(process.env.KUUERI_ATTACK_SEED);
  return Number.isSafeInteger(fromEnv) && fromEnv > 0 ? fromEnv : (Date.now() ^ (process.pid << 8)) >>> 0;
}

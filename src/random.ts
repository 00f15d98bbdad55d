/**
 * Returns a deterministic uniform [0, 1) generator (mulberry32, 32-bit state). One generator serves
 * every seeded choice in lora-lab (held-out articles, batches, sampling, bootstrap), so a seed gives
 * the same result on every platform, unlike Math.random.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Next-token selection on one row of logits, in the order Hugging Face applies its logits processors:
 * repetition penalty, temperature, top-k, top-p, then argmax (greedy) or a draw from the softmax.
 */

import { seededRandom } from '../random';

/** Returns a deterministic uniform [0, 1) generator, so sampling with a seed is repeatable. */
export const createRng = seededRandom;

export interface SamplingOptions {
  /** false (default): greedy argmax, like HF's do_sample=False; true: draw from the processed distribution. */
  doSample?: boolean;
  /** Divides the logits before sampling; default 1. */
  temperature?: number;
  /** Keeps the k most likely tokens; 0 or undefined keeps all. */
  topK?: number;
  /** Keeps the smallest set of most likely tokens whose probabilities sum to at least topP; default 1 (all). */
  topP?: number;
  /** CTRL-style penalty (> 1 discourages repeats) on every token already in the row; default 1 (off). */
  repetitionPenalty?: number;
}

export function validateSamplingOptions(options: SamplingOptions): void {
  const { temperature, topK, topP, repetitionPenalty } = options;
  if (temperature !== undefined && !(temperature > 0)) throw new Error(`Invalid temperature ${temperature}: must be > 0 (use doSample: false for greedy decoding).`);
  if (topK !== undefined && !(Number.isInteger(topK) && topK >= 0)) throw new Error(`Invalid topK ${topK}: must be an integer >= 0 (0 keeps all tokens).`);
  if (topP !== undefined && !(topP > 0 && topP <= 1)) throw new Error(`Invalid topP ${topP}: must be in (0, 1].`);
  if (repetitionPenalty !== undefined && !(repetitionPenalty > 0)) throw new Error(`Invalid repetitionPenalty ${repetitionPenalty}: must be > 0 (1 disables it).`);
}

/** Divides positive logits of seen tokens by `penalty` and multiplies negative ones, in place. */
export function applyRepetitionPenalty(logits: Float32Array, seenTokens: Iterable<number>, penalty: number): void {
  if (penalty === 1) return;
  for (const token of new Set(seenTokens)) {
    const value = logits[token];
    logits[token] = value < 0 ? value * penalty : value / penalty;
  }
}

/** Index of the largest value; the first one on ties, like torch.argmax. */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** Picks the next token from `logits` (already repetition-penalised); `random` is used only when sampling. */
export function selectToken(logits: Float32Array, options: SamplingOptions, random: () => number): number {
  if (!options.doSample) return argmax(logits);
  const temperature = options.temperature ?? 1;

  // Candidates sorted by logit, most likely first; top-k cuts the list.
  let order = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a]);
  if (options.topK && options.topK < order.length) order = order.slice(0, options.topK);

  // Softmax over the candidates (the max is subtracted for stability).
  const top = logits[order[0]] / temperature;
  const weights = order.map((token) => Math.exp(logits[token] / temperature - top));
  const total = weights.reduce((a, b) => a + b, 0);
  let probs = weights.map((w) => w / total);

  // Top-p keeps tokens until their cumulative probability reaches topP; the first token always stays.
  const topP = options.topP ?? 1;
  if (topP < 1) {
    let cumulative = 0;
    let keep = 0;
    while (keep < probs.length && (keep === 0 || cumulative < topP)) cumulative += probs[keep++];
    order = order.slice(0, keep);
    probs = probs.slice(0, keep).map((p) => p / cumulative);
  }

  let draw = random();
  for (let i = 0; i < order.length; i++) {
    draw -= probs[i];
    if (draw < 0) return order[i];
  }
  return order[order.length - 1];
}

import { buildPrompt } from '../data/prompt';
import { detokenize } from '../data/detokenize';
import type { ElifePair } from '../data/elife';
import type { HfTokenizer } from '../tokenizer/hf-tokenizer';
import type { TrainBatch } from '../train/trainer';
import { IGNORE_INDEX } from '../model/loss';
import { seededRandom } from '../random';

/** A tokenised tuning example: prompt tokens are not scored, target tokens (ending in EOS) are. */
export interface TokenizedExample {
  id: string;
  inputIds: number[];
  /** IGNORE_INDEX (-100) on the prompt, the token id on the target. */
  labels: number[];
  promptTokens: number;
  targetTokens: number;
  /** True when the abstract or the summary was shortened to fit. */
  truncated: boolean;
}

/**
 * Encodes the WisPerMed prompt for `abstract`, dropping words from the end of the abstract until
 * the prompt has at most `maxTokens` tokens. The instruction and the closing "Lay summary for this
 * article:" line are always kept, since the model learns to start the summary after them.
 */
export function encodePromptWithin(tokenizer: HfTokenizer, abstract: string, maxTokens: number): { ids: number[]; truncated: boolean } {
  const text = detokenize(abstract);
  let ids = tokenizer.encode(buildPrompt(text), { addSpecialTokens: true });
  if (ids.length <= maxTokens) return { ids, truncated: false };
  const words = text.split(/\s+/);
  let low = 0;
  let high = words.length;
  // Binary search for the most words whose prompt still fits.
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    const candidate = tokenizer.encode(buildPrompt(words.slice(0, middle).join(' ') || '…'), { addSpecialTokens: true });
    if (candidate.length <= maxTokens) low = middle;
    else high = middle - 1;
  }
  ids = tokenizer.encode(buildPrompt(words.slice(0, low).join(' ') || '…'), { addSpecialTokens: true });
  if (ids.length > maxTokens) {
    throw new Error(`The prompt template alone takes ${ids.length} tokens, more than the ${maxTokens} allowed; raise maxSeqLen in the preset.`);
  }
  return { ids, truncated: true };
}

/** Tokenises a pair as prompt + lay summary + EOS, within maxSeqLen tokens and at most maxTargetTokens of summary. */
export function tokenizePair(tokenizer: HfTokenizer, pair: ElifePair, limits: { maxSeqLen: number; maxTargetTokens: number }): TokenizedExample {
  const eos = tokenizer.eosTokenIds[0];
  if (eos === undefined) throw new Error('The tokenizer defines no EOS token, which tuning needs to teach the model where a summary ends.');
  let target = tokenizer.encode(detokenize(pair.summary), { addSpecialTokens: false });
  let truncated = false;
  if (target.length + 1 > limits.maxTargetTokens) {
    target = target.slice(0, limits.maxTargetTokens - 1);
    truncated = true;
  }
  target = [...target, eos];
  const prompt = encodePromptWithin(tokenizer, pair.abstract, limits.maxSeqLen - target.length);
  return {
    id: pair.id,
    inputIds: [...prompt.ids, ...target],
    labels: [...prompt.ids.map(() => IGNORE_INDEX), ...target],
    promptTokens: prompt.ids.length,
    targetTokens: target.length,
    truncated: truncated || prompt.truncated,
  };
}

/** Right-pads examples into one batch; pads get label -100 and attention mask 0. */
export function collate(examples: TokenizedExample[], padTokenId: number): TrainBatch {
  const width = Math.max(...examples.map((example) => example.inputIds.length));
  const pad = (row: number[], value: number) => [...row, ...new Array<number>(width - row.length).fill(value)];
  return {
    inputIds: examples.map((example) => pad(example.inputIds, padTokenId)),
    labels: examples.map((example) => pad(example.labels, IGNORE_INDEX)),
    attentionMask: examples.map((example) => pad(example.inputIds.map(() => 1), 0)),
  };
}

/** Returns a permutation of 0..n-1 from a seed (Fisher–Yates). */
export function seededPermutation(n: number, seed: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  const random = seededRandom(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/**
 * Batch for a tuning step: epochs walk a seeded permutation of the examples, so the batch depends
 * only on (seed, step) and a resumed run gets the same data as an uninterrupted one.
 */
export function tuningBatchForStep(examples: TokenizedExample[], step: number, batchSize: number, seed: number, padTokenId: number): TrainBatch {
  const perEpoch = Math.max(1, Math.floor(examples.length / batchSize));
  const epoch = Math.floor(step / perEpoch);
  const order = seededPermutation(examples.length, seed + epoch);
  const start = (step % perEpoch) * batchSize;
  const chosen = order.slice(start, start + batchSize).map((index) => examples[index]);
  return collate(chosen, padTokenId);
}

/**
 * Batch for a pretraining step: batchSize windows of seqLen tokens at offsets drawn from (seed, step)
 * in the concatenated token stream. Labels equal inputs; the loss shifts them by one.
 */
export function pretrainBatchForStep(tokens: Int32Array, step: number, batchSize: number, seqLen: number, seed: number): TrainBatch {
  if (tokens.length <= seqLen) throw new Error(`Pretraining text has ${tokens.length} tokens, fewer than one window of ${seqLen}; add text or lower seqLen.`);
  const random = seededRandom(seed * 1_000_003 + step);
  const inputIds: number[][] = [];
  for (let b = 0; b < batchSize; b++) {
    const offset = Math.floor(random() * (tokens.length - seqLen));
    inputIds.push(Array.from(tokens.subarray(offset, offset + seqLen)));
  }
  return { inputIds, labels: inputIds.map((row) => [...row]) };
}

/** Non-overlapping windows from the start of a token stream, for a fixed evaluation set. */
export function fixedWindows(tokens: Int32Array, count: number, seqLen: number, batchSize: number): TrainBatch[] {
  const windows: number[][] = [];
  for (let offset = 0; offset + seqLen <= tokens.length && windows.length < count; offset += seqLen) {
    windows.push(Array.from(tokens.subarray(offset, offset + seqLen)));
  }
  const batches: TrainBatch[] = [];
  for (let i = 0; i < windows.length; i += batchSize) {
    const rows = windows.slice(i, i + batchSize);
    batches.push({ inputIds: rows, labels: rows.map((row) => [...row]) });
  }
  return batches;
}

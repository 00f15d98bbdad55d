import * as tf from '@tensorflow/tfjs';
import { ProgressCallback } from '../progress';
import { ModelConfig } from '../model/config';
import { KvCache } from '../model/kv-cache';
import { ForwardOptions } from '../model/llama';
import { applyRepetitionPenalty, createRng, SamplingOptions, selectToken, validateSamplingOptions } from './sampling';

/** Model interface that generate calls; LlamaForCausalLM implements it. */
export interface CausalLm {
  readonly config: ModelConfig;
  forward(inputIds: tf.Tensor2D, options?: ForwardOptions): tf.Tensor3D;
  createCache(): KvCache;
}

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  /** Stop ids; default the model's (generation_config.json's list when the folder has one). */
  eosTokenIds?: number[];
  /** Fills left padding and the rows that finished early; default pad_token_id, else the first eos id, else 0. */
  padTokenId?: number;
  /** A row stops once its decoded new text contains one of these; needs `decode`. */
  stopStrings?: string[];
  decode?: (ids: number[]) => string;
  /** Seed of the sampling generator; row k of a batch draws from seed + k. Default 0. */
  seed?: number;
  /** Reuse keys and values of earlier tokens (default true); false recomputes the whole sequence each step. */
  useCache?: boolean;
  onProgress?: ProgressCallback;
}

export type FinishReason = 'eos' | 'stop_string' | 'length';

export interface GenerateResult {
  /** Per prompt, the generated ids without pads; a stop id that ended the row is kept, as HF does. */
  newTokens: number[][];
  /** Left-padded prompts followed by the generated columns, finished rows filled with padTokenId (HF's output). */
  sequences: number[][];
  /** Attention mask of `sequences`: 0 on the left padding, 1 elsewhere. */
  attentionMask: number[][];
  finishReasons: FinishReason[];
  /** Generated (not padded) tokens per second of wall time, prompt processing included. */
  tokensPerSecond: number;
  seconds: number;
}

function validatePrompts(prompts: number[][], vocabSize: number): void {
  if (prompts.length === 0) throw new Error('generate: no prompts given.');
  for (const [row, prompt] of prompts.entries()) {
    if (prompt.length === 0) throw new Error(`generate: prompt ${row} is empty; it needs at least one token (e.g. BOS).`);
    const bad = prompt.find((id) => !Number.isInteger(id) || id < 0 || id >= vocabSize);
    if (bad !== undefined) throw new Error(`generate: prompt ${row} contains token id ${bad}, outside the vocabulary of ${vocabSize}.`);
  }
}

/**
 * Decodes continuations of a batch of prompts. Prompts of different lengths are left-padded and masked, so each
 * row gets the tokens it would get alone. Every step appends one column to every row; the batch ends when every
 * row has hit a stop id or stop string, or after maxNewTokens steps.
 */
export async function generate(model: CausalLm, prompts: number[][], options: GenerateOptions): Promise<GenerateResult> {
  const { config } = model;
  validatePrompts(prompts, config.vocabSize);
  validateSamplingOptions(options);
  if (!(Number.isInteger(options.maxNewTokens) && options.maxNewTokens >= 0)) {
    throw new Error(`generate: maxNewTokens must be an integer >= 0, got ${options.maxNewTokens}.`);
  }
  if (options.stopStrings?.length && !options.decode) throw new Error('generate: stopStrings need a decode(ids) callback.');

  const eosTokenIds = new Set(options.eosTokenIds ?? config.eosTokenIds);
  const padTokenId = options.padTokenId ?? config.padTokenId ?? [...eosTokenIds][0] ?? 0;
  const seed = options.seed ?? 0;
  const randoms = prompts.map((_, row) => createRng(seed + row));
  const B = prompts.length;
  const promptLength = Math.max(...prompts.map((p) => p.length));

  // Left padding: every row ends at the same column, so the next token of every row is the last column.
  const sequences = prompts.map((p) => [...new Array<number>(promptLength - p.length).fill(padTokenId), ...p]);
  const attentionMask = prompts.map((p) => [...new Array<number>(promptLength - p.length).fill(0), ...p.map(() => 1)]);
  const newTokens: number[][] = prompts.map(() => []);
  const finishReasons: (FinishReason | null)[] = prompts.map(() => null);

  const cache = options.useCache === false ? undefined : model.createCache();
  const task = 'generate';
  const startedAt = Date.now();
  let generated = 0;
  options.onProgress?.({ kind: 'start', task, total: options.maxNewTokens, unit: 'steps' });
  try {
    for (let step = 0; step < options.maxNewTokens; step++) {
      const width = sequences[0].length;
      const lastLogits = tf.tidy(() => {
        // With a cache only the newest column goes in after the first step; the mask always covers every column.
        const columns = cache && step > 0 ? sequences.map((row) => row.slice(width - 1)) : sequences;
        const inputIds = tf.tensor2d(columns, [B, columns[0].length], 'int32');
        const mask = tf.tensor2d(attentionMask, [B, width], 'int32');
        const logits = model.forward(inputIds, { attentionMask: mask, cache }); // (B, T, V)
        const T = logits.shape[1];
        return logits.slice([0, T - 1, 0], [B, 1, config.vocabSize]).reshape([B, config.vocabSize]);
      });
      const values = (await lastLogits.data()) as Float32Array;
      lastLogits.dispose();

      for (let row = 0; row < B; row++) {
        let token = padTokenId;
        if (finishReasons[row] === null) {
          const rowLogits = values.slice(row * config.vocabSize, (row + 1) * config.vocabSize);
          // The penalty uses the row's own tokens only, not its padding, so batching changes nothing.
          applyRepetitionPenalty(rowLogits, [...prompts[row], ...newTokens[row]], options.repetitionPenalty ?? 1);
          token = selectToken(rowLogits, options, randoms[row]);
          newTokens[row].push(token);
          generated++;
          if (eosTokenIds.has(token)) finishReasons[row] = 'eos';
          else if (options.stopStrings?.length && options.decode) {
            const text = options.decode(newTokens[row]);
            if (options.stopStrings.some((stop) => text.includes(stop))) finishReasons[row] = 'stop_string';
          }
        }
        sequences[row].push(token);
        attentionMask[row].push(1);
      }

      const seconds = (Date.now() - startedAt) / 1000;
      options.onProgress?.({ kind: 'update', task, done: step + 1, total: options.maxNewTokens, metrics: { tokensPerSecond: generated / Math.max(seconds, 1e-3) } });
      if (finishReasons.every((reason) => reason !== null)) break;
    }
  } finally {
    cache?.dispose();
  }

  const seconds = (Date.now() - startedAt) / 1000;
  const tokensPerSecond = generated / Math.max(seconds, 1e-3);
  options.onProgress?.({ kind: 'end', task, done: newTokens.reduce((n, row) => Math.max(n, row.length), 0), seconds, metrics: { tokensPerSecond } });
  return {
    newTokens,
    sequences,
    attentionMask,
    finishReasons: finishReasons.map((reason) => reason ?? 'length'),
    tokensPerSecond,
    seconds,
  };
}

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { detokenize } from '../data/detokenize';
import type { ElifePair } from '../data/elife';
import { generate } from '../generation/generate';
import type { ModelConfig } from '../model/config';
import { LlamaForCausalLM } from '../model/llama';
import { causalLmLoss } from '../model/loss';
import { writeFileAtomic } from '../model/safetensors';
import type { ProgressCallback } from '../progress';
import { HfTokenizer } from '../tokenizer/hf-tokenizer';
import { trainByteLevelBpe } from '../tokenizer/bpe-trainer';
import { trainLoop, type TrainBatch, type TrainResult } from '../train/trainer';
import { encodePromptWithin, fixedWindows, pretrainBatchForStep } from './examples';
import type { Preset } from './preset';

/** Files a Hugging Face tokenizer folder may hold; copied next to the weights so a model folder is complete. */
export const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'];

export function copyTokenizerFiles(fromDir: string, toDir: string): void {
  fs.mkdirSync(toDir, { recursive: true });
  for (const file of TOKENIZER_FILES) {
    const source = path.join(fromDir, file);
    if (fs.existsSync(source)) fs.copyFileSync(source, path.join(toDir, file));
  }
}

/** Trains the byte-level BPE tokenizer on the pretraining text, or loads the one an earlier run saved. */
export async function prepareTokenizer(dir: string, texts: string[], preset: Preset, log: (line: string) => void): Promise<HfTokenizer> {
  if (fs.existsSync(path.join(dir, 'tokenizer.json'))) {
    log(`Tokenizer: reusing ${dir}`);
    return HfTokenizer.fromDir(dir);
  }
  const result = trainByteLevelBpe(texts, { vocabSize: preset.tokenizer.vocabSize, outDir: dir, modelMaxLength: preset.model.maxPositionEmbeddings });
  log(
    `Tokenizer: byte-level BPE with ${result.vocab.size} tokens (${result.stats.merges} merges) trained on ${result.stats.words.toLocaleString('en-US')} words in ${result.stats.seconds.toFixed(1)} s, saved to ${dir}`,
  );
  return HfTokenizer.fromDir(dir);
}

/** Concatenates encoded documents, each followed by EOS, into one token stream. */
export function encodeStream(tokenizer: HfTokenizer, texts: string[], onProgress?: ProgressCallback): Int32Array {
  const eos = tokenizer.eosTokenIds[0];
  const chunks: number[][] = [];
  let total = 0;
  onProgress?.({ kind: 'start', task: 'tokenize', total: texts.length, unit: 'documents' });
  const started = Date.now();
  texts.forEach((text, i) => {
    const ids = tokenizer.encode(text, { addSpecialTokens: false });
    ids.push(eos);
    chunks.push(ids);
    total += ids.length;
    if ((i + 1) % 200 === 0) onProgress?.({ kind: 'update', task: 'tokenize', done: i + 1, total: texts.length });
  });
  onProgress?.({ kind: 'end', task: 'tokenize', done: texts.length, seconds: (Date.now() - started) / 1000, metrics: { tokens: total } });
  const stream = new Int32Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    stream.set(chunk, offset);
    offset += chunk.length;
  }
  return stream;
}

/** Model configuration of the small decoder pretrained here, from the preset and the tokenizer. */
export function smallModelConfig(preset: Preset, tokenizer: HfTokenizer): ModelConfig {
  const m = preset.model;
  return {
    architecture: 'LlamaForCausalLM',
    modelType: 'llama',
    vocabSize: tokenizer.vocabSize,
    hiddenSize: m.hiddenSize,
    intermediateSize: m.intermediateSize,
    numHiddenLayers: m.numHiddenLayers,
    numAttentionHeads: m.numAttentionHeads,
    numKeyValueHeads: m.numKeyValueHeads,
    headDim: m.hiddenSize / m.numAttentionHeads,
    rmsNormEps: 1e-5,
    ropeTheta: m.ropeTheta,
    ropeScaling: null,
    maxPositionEmbeddings: m.maxPositionEmbeddings,
    tieWordEmbeddings: m.tieWordEmbeddings,
    attentionBias: false,
    slidingWindow: null,
    bosTokenId: tokenizer.bosTokenId ?? null,
    eosTokenIds: tokenizer.eosTokenIds,
    padTokenId: tokenizer.padTokenId ?? null,
    initializerRange: 0.02,
  };
}

/** Returns the loss function for trainLoop: the HF causal-LM loss of the model on a batch. */
export function batchLoss(model: LlamaForCausalLM) {
  return (batch: TrainBatch, training: boolean): tf.Scalar =>
    tf.tidy(() => {
      const ids = tf.tensor2d(batch.inputIds, undefined, 'int32');
      const labels = tf.tensor2d(batch.labels, undefined, 'int32');
      const mask = batch.attentionMask ? tf.tensor2d(batch.attentionMask, undefined, 'int32') : undefined;
      return causalLmLoss(model.forward(ids, { attentionMask: mask, training }), labels);
    });
}

export interface PretrainOutcome {
  model: LlamaForCausalLM;
  result: TrainResult | null;
  tokens: number;
}

/**
 * Pretrains a small Llama from random weights as a causal LM on the pretraining text and saves it
 * in Hugging Face layout, or loads the model an earlier run saved in `modelDir`.
 */
export async function pretrainBaseModel(options: {
  modelDir: string;
  checkpointDir: string;
  tokenizerDir: string;
  tokenizer: HfTokenizer;
  texts: string[];
  preset: Preset;
  onProgress: ProgressCallback;
  log: (line: string) => void;
}): Promise<PretrainOutcome> {
  const { modelDir, tokenizer, preset, log } = options;
  if (fs.existsSync(path.join(modelDir, 'model.safetensors'))) {
    log(`Base model: reusing ${modelDir}`);
    return { model: await LlamaForCausalLM.fromPretrained(modelDir), result: null, tokens: 0 };
  }
  const stream = encodeStream(tokenizer, options.texts, options.onProgress);
  // The last 5% of the stream (whole documents shuffled in by the caller) is held out for the eval loss.
  const split = Math.floor(stream.length * 0.95);
  const trainTokens = stream.subarray(0, split);
  const evalTokens = stream.subarray(split);
  const p = preset.pretrain;
  const model = LlamaForCausalLM.randomInit(smallModelConfig(preset, tokenizer), preset.seed);
  log(
    `Base model: Llama with ${model.parameterCount().toLocaleString('en-US')} parameters, pretraining ${p.steps} steps × ${p.batchSize} × ${p.seqLen} tokens ` +
      `on ${trainTokens.length.toLocaleString('en-US')} tokens (${((p.steps * p.batchSize * p.seqLen) / trainTokens.length).toFixed(2)} epochs)`,
  );
  const result = await trainLoop({
    task: 'pretrain',
    variables: [...model.namedWeights().values()],
    loss: batchLoss(model),
    batchForStep: (step) => pretrainBatchForStep(trainTokens, step, p.batchSize, p.seqLen, preset.seed),
    steps: p.steps,
    learningRate: p.learningRate,
    warmupSteps: p.warmupSteps,
    weightDecay: p.weightDecay,
    maxGradNorm: p.maxGradNorm,
    evalBatches: fixedWindows(evalTokens, 8, p.seqLen, p.batchSize),
    evalEvery: p.evalEvery,
    checkpointDir: options.checkpointDir,
    checkpointEvery: p.checkpointEvery,
    onProgress: options.onProgress,
  });
  // Written to a staging folder and renamed, so a half-saved model is never taken for a finished one.
  const staging = `${modelDir}.tmp-${process.pid}`;
  fs.rmSync(staging, { recursive: true, force: true });
  await model.savePretrained(staging);
  copyTokenizerFiles(options.tokenizerDir, staging);
  fs.rmSync(modelDir, { recursive: true, force: true });
  fs.renameSync(staging, modelDir);
  log(`Base model: saved to ${modelDir}`);
  return { model, result, tokens: trainTokens.length };
}

export interface PredictionRow {
  id: string;
  system: string;
  prediction: string;
  reference: string;
  source: string;
}

/**
 * Generates a lay summary for every evaluation pair, greedy, in batches of similar prompt length.
 * Prompts are shortened (abstract words dropped from the end) to leave room for maxNewTokens.
 */
export async function generateSummaries(options: {
  model: LlamaForCausalLM;
  tokenizer: HfTokenizer;
  pairs: ElifePair[];
  system: string;
  preset: Preset;
  onProgress: ProgressCallback;
}): Promise<{ rows: PredictionRow[]; tokensPerSecond: number; seconds: number; newTokens: number }> {
  const { model, tokenizer, pairs, preset } = options;
  const g = preset.generation;
  const promptBudget = model.config.maxPositionEmbeddings - g.maxNewTokens;
  const prompts = pairs.map((pair) => encodePromptWithin(tokenizer, pair.abstract, promptBudget).ids);
  const order = prompts.map((_, i) => i).sort((a, b) => prompts[a].length - prompts[b].length);
  const texts = new Array<string>(pairs.length);
  let seconds = 0;
  let newTokens = 0;
  const task = `generate ${options.system}`;
  options.onProgress({ kind: 'start', task, total: pairs.length, unit: 'summaries' });
  for (let start = 0; start < order.length; start += g.batchSize) {
    const batch = order.slice(start, start + g.batchSize);
    const result = await generate(
      model,
      batch.map((i) => prompts[i]),
      {
        maxNewTokens: g.maxNewTokens,
        repetitionPenalty: g.repetitionPenalty,
        eosTokenIds: tokenizer.eosTokenIds,
        padTokenId: tokenizer.padTokenId ?? tokenizer.eosTokenIds[0],
      },
    );
    seconds += result.seconds;
    batch.forEach((pairIndex, row) => {
      const ids = result.newTokens[row];
      newTokens += ids.length;
      texts[pairIndex] = tokenizer.decode(ids, { skipSpecialTokens: true }).trim();
    });
    options.onProgress({ kind: 'update', task, done: Math.min(start + g.batchSize, order.length), total: pairs.length, metrics: { tokensPerSecond: newTokens / seconds } });
  }
  options.onProgress({ kind: 'end', task, done: pairs.length, seconds, metrics: { tokensPerSecond: newTokens / Math.max(seconds, 1e-9) } });
  const rows = pairs.map((pair, i) => ({ id: pair.id, system: options.system, prediction: texts[i], reference: pair.summary, source: pair.abstract }));
  return { rows, tokensPerSecond: newTokens / Math.max(seconds, 1e-9), seconds, newTokens };
}

/** Builds the extractive baseline: the abstract itself as the summary, a floor for ROUGE and a ceiling for jargon. */
export function abstractBaseline(pairs: ElifePair[]): PredictionRow[] {
  return pairs.map((pair) => ({ id: pair.id, system: 'abstract (extractive)', prediction: pair.abstract, reference: pair.summary, source: pair.abstract }));
}

/** Reads predictions.jsonl written by an earlier run, or an empty list. */
export function readPredictions(file: string): PredictionRow[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line, i) => {
      try {
        return JSON.parse(line) as PredictionRow;
      } catch (error) {
        throw new Error(`${file}:${i + 1}: not valid JSON (${(error as Error).message}); delete the file to regenerate the predictions.`);
      }
    });
}

export function writePredictions(file: string, rows: PredictionRow[]): void {
  writeFileAtomic(file, rows.map((row) => JSON.stringify(row)).join('\n') + '\n');
}

/** Detokenises corpus text and cuts it to maxWords, for the examples in the report. */
export function readable(text: string, maxWords: number): string {
  const words = detokenize(text).split(/\s+/);
  return words.length > maxWords ? `${words.slice(0, maxWords).join(' ')} …` : words.join(' ');
}

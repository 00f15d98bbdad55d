import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';

import { llamaHiddenState } from '../model/hidden-states';
import { LlamaForCausalLM } from '../model/llama';
import { IGNORE_INDEX, sequenceLosses } from '../model/loss';
import { HfTokenizer } from '../tokenizer/hf-tokenizer';
import type { TokenEmbedder, TokenEmbedding } from './bertscore';
import type { FactScoreSetting } from './evaluate';
import type { ConditionalScorer, SentenceEncoder } from './longdocfactscore';
import { isTransformersJsEncoderDir, TransformersJsEncoder } from './transformers-encoder';

/**
 * Concrete encoders for BERTScore and LongDocFACTScore:
 * - LlamaEncoder and CausalLmScorer run a lora-lab model folder (config.json, model.safetensors,
 *   tokenizer.json) through LlamaForCausalLM;
 * - TransformersJsEncoder runs a local Hugging Face encoder folder (BERT, MiniLM, ...) exported
 *   to ONNX, through @huggingface/transformers with remote downloads turned off.
 * Scores from different encoders, or from different layers of one encoder, are on different
 * scales, so every encoder carries an EncoderInfo that the evaluation summary records.
 */

/** Identity of an encoder or scorer, recorded next to the scores it produced. */
export interface EncoderInfo {
  /** "lora-lab" for a LlamaForCausalLM folder, "transformers.js" for an ONNX encoder folder. */
  kind: 'lora-lab' | 'transformers.js';
  /** Absolute path of the model folder. */
  folder: string;
  /** Hidden state used: 0 = embeddings, numHiddenLayers = last layer; null where not applicable. */
  layer: number | null;
  /** Pooling of token vectors into a sentence vector, or the scoring rule of a scorer. */
  method: string;
  /** Tokens fed to the model per text at most; longer texts are truncated. */
  maxTokens: number;
}

/** An encoder or scorer that states what it is. */
export interface DescribedModel {
  readonly info: EncoderInfo;
  dispose(): void;
}

/** Returns a one-line description such as "lora-lab stories260K/hf, layer 5, mean pooling". */
export function describeEncoder(info: EncoderInfo): string {
  const where = path.join(path.basename(path.dirname(info.folder)), path.basename(info.folder));
  const layer = info.layer === null ? '' : `, layer ${info.layer}`;
  return `${info.kind} ${where}${layer}, ${info.method}`;
}

/** True when `dir` has the files of a lora-lab (Llama-family safetensors) model folder. */
export function isLoraLabModelDir(dir: string): boolean {
  if (!fs.existsSync(path.join(dir, 'config.json'))) return false;
  return fs.existsSync(path.join(dir, 'model.safetensors')) || fs.existsSync(path.join(dir, 'model.safetensors.index.json'));
}

function requireModelFolder(dir: string, purpose: string): string {
  const folder = path.resolve(dir);
  if (!fs.existsSync(folder) || !fs.statSync(folder).isDirectory()) {
    throw new Error(`${purpose}: model folder not found: ${folder}. Pass a folder that contains config.json, model.safetensors and tokenizer.json.`);
  }
  const missing = ['config.json', 'tokenizer.json'].filter((file) => !fs.existsSync(path.join(folder, file)));
  if (!isLoraLabModelDir(folder)) missing.push('model.safetensors (or model.safetensors.index.json)');
  if (missing.length > 0) {
    throw new Error(`${purpose}: ${folder} is missing ${missing.join(', ')}. A lora-lab model folder needs config.json, model.safetensors and tokenizer.json.`);
  }
  return folder;
}

export interface LlamaEncoderOptions {
  /** Hidden state to read: 0 = embeddings ... numHiddenLayers = last layer after the final norm (default). */
  layer?: number;
}

/**
 * Contextual token embeddings (BERTScore) and mean-pooled sentence embeddings
 * (LongDocFACTScore) from one hidden state of a LlamaForCausalLM. Each text is run on its own
 * after the model's BOS token, which is dropped from the output as BERTScore drops [CLS]/[SEP].
 * A causal model's token vector depends only on the tokens before it, unlike BERT's.
 */
export class LlamaEncoder implements TokenEmbedder, SentenceEncoder, DescribedModel {
  readonly info: EncoderInfo;

  private constructor(
    private readonly model: LlamaForCausalLM,
    private readonly tokenizer: HfTokenizer,
    readonly layer: number,
    folder: string,
    private readonly ownsModel: boolean,
  ) {
    this.info = { kind: 'lora-lab', folder, layer, method: 'mean pooling for sentences', maxTokens: model.config.maxPositionEmbeddings };
  }

  /** Loads the model and tokenizer of a lora-lab model folder. */
  static async fromDir(dir: string, options: LlamaEncoderOptions = {}): Promise<LlamaEncoder> {
    const folder = requireModelFolder(dir, 'Encoder');
    const tokenizer = await HfTokenizer.fromDir(folder);
    const model = await LlamaForCausalLM.fromPretrained(folder);
    try {
      return LlamaEncoder.fromModel(model, tokenizer, folder, options, true);
    } catch (error) {
      model.dispose();
      throw error;
    }
  }

  /** Wraps a model already loaded (e.g. with a LoRA adapter); the caller keeps ownership of it. */
  static fromModel(model: LlamaForCausalLM, tokenizer: HfTokenizer, folder: string, options: LlamaEncoderOptions = {}, ownsModel = false): LlamaEncoder {
    const layers = model.config.numHiddenLayers;
    const layer = options.layer ?? layers;
    if (!Number.isInteger(layer) || layer < 0 || layer > layers) {
      throw new Error(`Invalid encoder layer ${layer} for ${folder}: the model has ${layers} layers, so choose 0 (embeddings) to ${layers} (last layer).`);
    }
    return new LlamaEncoder(model, tokenizer, layer, path.resolve(folder), ownsModel);
  }

  /** Token ids of `text` without special tokens, cut to fit after BOS in the model's context. */
  private contentIds(text: string): number[] {
    const ids = this.tokenizer.encode(text, { addSpecialTokens: false });
    // NOTE: text past max_position_embeddings - 1 tokens is dropped, as bert_score truncates to the model's maximum length.
    return ids.slice(0, this.model.config.maxPositionEmbeddings - 1);
  }

  /** Hidden vectors (T, C) of the content tokens `ids`, read after a BOS token. */
  private async vectors(ids: number[]): Promise<number[][]> {
    const bos = this.tokenizer.bosTokenId ?? this.model.config.bosTokenId;
    const input = bos === null || bos === undefined ? ids : [bos, ...ids];
    const offset = input.length - ids.length;
    const state = tf.tidy(() => {
      const hidden = llamaHiddenState(this.model, tf.tensor2d([input], [1, input.length], 'int32'), this.layer); // (1, T', C)
      return hidden.slice([0, offset, 0], [1, ids.length, -1]).squeeze([0]); // (T, C)
    });
    const values = (await state.array()) as number[][];
    state.dispose();
    return values;
  }

  async embed(texts: string[]): Promise<TokenEmbedding[]> {
    const embeddings: TokenEmbedding[] = [];
    for (const text of texts) {
      const ids = this.contentIds(text);
      embeddings.push({ tokens: ids.map(String), vectors: ids.length === 0 ? [] : await this.vectors(ids) });
    }
    return embeddings;
  }

  async encode(sentences: string[]): Promise<number[][]> {
    const pooled: number[][] = [];
    for (const [index, sentence] of sentences.entries()) {
      const ids = this.contentIds(sentence);
      if (ids.length === 0) throw new Error(`Sentence encoder: sentence ${index} has no tokens, so it has no embedding: ${JSON.stringify(sentence)}.`);
      const vectors = await this.vectors(ids);
      const sum = new Array<number>(vectors[0].length).fill(0);
      for (const vector of vectors) for (let c = 0; c < sum.length; c++) sum[c] += vector[c];
      pooled.push(sum.map((value) => value / vectors.length));
    }
    return pooled;
  }

  dispose(): void {
    if (this.ownsModel) this.model.dispose();
  }
}

/**
 * ConditionalScorer from a causal LM: the mean log-likelihood of the target's tokens given
 * BOS + source, which plays the role BARTScore (mean log-likelihood under BART given the source)
 * plays in LongDocFACTScore. Higher is better and 0 is the maximum.
 */
export class CausalLmScorer implements ConditionalScorer, DescribedModel {
  readonly info: EncoderInfo;

  private constructor(
    private readonly model: LlamaForCausalLM,
    private readonly tokenizer: HfTokenizer,
    folder: string,
    private readonly ownsModel: boolean,
  ) {
    this.info = {
      kind: 'lora-lab',
      folder,
      layer: null,
      method: 'mean log-likelihood of the target given the source',
      maxTokens: model.config.maxPositionEmbeddings,
    };
  }

  static async fromDir(dir: string): Promise<CausalLmScorer> {
    const folder = requireModelFolder(dir, 'Conditional scorer');
    const tokenizer = await HfTokenizer.fromDir(folder);
    const model = await LlamaForCausalLM.fromPretrained(folder);
    return new CausalLmScorer(model, tokenizer, folder, true);
  }

  /** Wraps a model already loaded; the caller keeps ownership of it. */
  static fromModel(model: LlamaForCausalLM, tokenizer: HfTokenizer, folder: string): CausalLmScorer {
    return new CausalLmScorer(model, tokenizer, path.resolve(folder), false);
  }

  /** Token ids and labels for one pair: BOS and source unscored, target scored. */
  private pairIds(source: string, target: string): { ids: number[]; labels: number[] } {
    const limit = this.model.config.maxPositionEmbeddings;
    const bos = this.tokenizer.bosTokenId ?? this.model.config.bosTokenId;
    const prefix = bos === null || bos === undefined ? [] : [bos];
    // NOTE: an over-long pair keeps the target whole (up to the context) and the end of the source, nearest the target.
    const targetIds = this.tokenizer.encode(target, { addSpecialTokens: false }).slice(0, limit - prefix.length - 1);
    const sourceIds = this.tokenizer.encode(source, { addSpecialTokens: false });
    const room = limit - prefix.length - targetIds.length;
    const context = [...prefix, ...sourceIds.slice(Math.max(0, sourceIds.length - room))];
    return { ids: [...context, ...targetIds], labels: [...context.map(() => IGNORE_INDEX), ...targetIds] };
  }

  async score(sources: string[], targets: string[]): Promise<number[]> {
    if (sources.length !== targets.length) {
      throw new Error(`Conditional scorer needs one source per target: got ${sources.length} sources and ${targets.length} targets.`);
    }
    const scores: number[] = [];
    for (let i = 0; i < sources.length; i++) {
      const { ids, labels } = this.pairIds(sources[i], targets[i]);
      if (ids.length < 2 || labels[labels.length - 1] === IGNORE_INDEX) {
        throw new Error(`Conditional scorer: target ${i} has no tokens to score: ${JSON.stringify(targets[i])}.`);
      }
      const inputIds = tf.tensor2d([ids], [1, ids.length], 'int32');
      const labelTensor = tf.tensor2d([labels], [1, labels.length], 'int32');
      const logits = this.model.forward(inputIds);
      const { losses } = await sequenceLosses(logits, labelTensor);
      tf.dispose([inputIds, labelTensor, logits]);
      scores.push(-losses[0]);
    }
    return scores;
  }

  dispose(): void {
    if (this.ownsModel) this.model.dispose();
  }
}

/** Loads the BERTScore / sentence encoder for `dir`: a lora-lab model folder or an ONNX encoder folder. */
export async function loadEncoder(dir: string, options: LlamaEncoderOptions = {}): Promise<TokenEmbedder & SentenceEncoder & DescribedModel> {
  const folder = path.resolve(dir);
  if (isLoraLabModelDir(folder)) return LlamaEncoder.fromDir(folder, options);
  if (isTransformersJsEncoderDir(folder)) {
    if (options.layer !== undefined) {
      throw new Error(`--encoder-layer applies to lora-lab model folders only: ${folder} is an ONNX encoder, which outputs its last layer.`);
    }
    return TransformersJsEncoder.fromDir(folder);
  }
  throw new Error(
    `Encoder folder ${folder} is neither a lora-lab model folder (config.json + model.safetensors + tokenizer.json) ` +
      'nor a Hugging Face ONNX encoder folder (config.json + tokenizer.json + onnx/model.onnx). Check the path.',
  );
}

/**
 * Loads a lora-lab model folder once and uses it both as LongDocFACTScore's sentence encoder
 * (mean-pooled hidden state `layer`) and as its conditional scorer. Call dispose() when done.
 */
export async function loadFactScoreModels(dir: string, options: LlamaEncoderOptions = {}): Promise<FactScoreSetting & { dispose(): void }> {
  const folder = requireModelFolder(dir, 'LongDocFACTScore model (a causal LM folder)');
  const tokenizer = await HfTokenizer.fromDir(folder);
  const model = await LlamaForCausalLM.fromPretrained(folder);
  try {
    const encoder = LlamaEncoder.fromModel(model, tokenizer, folder, options);
    const scorer = CausalLmScorer.fromModel(model, tokenizer, folder);
    return { encoder, scorer, encoderInfo: encoder.info, scorerInfo: scorer.info, dispose: () => model.dispose() };
  } catch (error) {
    model.dispose();
    throw error;
  }
}

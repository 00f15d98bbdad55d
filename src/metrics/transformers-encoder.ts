import * as fs from 'node:fs';
import * as path from 'node:path';

import type { TokenEmbedder, TokenEmbedding } from './bertscore';
import type { EncoderInfo } from './encoders';
import type { SentenceEncoder } from './longdocfactscore';

/**
 * A Hugging Face encoder (BERT, RoBERTa, MiniLM, ...) exported to ONNX in the transformers.js
 * layout, run by @huggingface/transformers 4.3.1 from a local folder only: remote models are
 * turned off before loading, so nothing is downloaded. The package is an ES module, so it is
 * loaded with a dynamic import(). Its types are not imported: the few members used are declared
 * here, as hf-tokenizer.ts does for @huggingface/tokenizers.
 */

interface TjsTensor {
  dims: number[];
  tolist(): unknown;
}

interface TjsTokenizer {
  (text: string, options: { truncation: boolean }): { input_ids: TjsTensor };
  all_special_ids: number[];
}

interface TjsFeatureExtractor {
  (text: string, options: { pooling: 'none' | 'mean'; normalize: boolean }): Promise<TjsTensor>;
  tokenizer: TjsTokenizer;
  dispose(): Promise<void>;
}

interface TjsModule {
  env: { allowRemoteModels: boolean; allowLocalModels: boolean; localModelPath: string };
  pipeline(task: 'feature-extraction', model: string, options: { local_files_only: boolean; dtype: string }): Promise<TjsFeatureExtractor>;
}

/** ONNX weight files transformers.js looks for, by dtype, under onnx/. */
const ONNX_FILES: { file: string; dtype: string }[] = [
  { file: 'model.onnx', dtype: 'fp32' },
  { file: 'model_quantized.onnx', dtype: 'q8' },
  { file: 'model_fp16.onnx', dtype: 'fp16' },
];

/** Returns the files a transformers.js encoder folder lacks; empty when it is complete. */
export function missingTransformersJsFiles(dir: string): string[] {
  const missing = ['config.json', 'tokenizer.json'].filter((file) => !fs.existsSync(path.join(dir, file)));
  if (!ONNX_FILES.some(({ file }) => fs.existsSync(path.join(dir, 'onnx', file)))) {
    missing.push(`onnx/${ONNX_FILES.map(({ file }) => file).join(' or onnx/')}`);
  }
  return missing;
}

/** True when `dir` has an ONNX weight file in the transformers.js layout. */
export function isTransformersJsEncoderDir(dir: string): boolean {
  return ONNX_FILES.some(({ file }) => fs.existsSync(path.join(dir, 'onnx', file)));
}

/**
 * Token embeddings (last hidden state, special tokens dropped) and mean-pooled sentence
 * embeddings from a local ONNX encoder folder. Texts longer than the tokenizer's
 * model_max_length are truncated, as bert_score does.
 */
export class TransformersJsEncoder implements TokenEmbedder, SentenceEncoder {
  readonly info: EncoderInfo;

  private constructor(
    private readonly extractor: TjsFeatureExtractor,
    folder: string,
    dtype: string,
  ) {
    this.info = { kind: 'transformers.js', folder, layer: null, method: `last hidden state (${dtype}), mean pooling for sentences`, maxTokens: 0 };
  }

  /** Loads `dir` (config.json, tokenizer.json, onnx/model.onnx) without any network access. */
  static async fromDir(dir: string): Promise<TransformersJsEncoder> {
    const folder = path.resolve(dir);
    if (!fs.existsSync(folder) || !fs.statSync(folder).isDirectory()) {
      throw new Error(`Encoder folder not found: ${folder}. Pass a local folder with config.json, tokenizer.json and onnx/model.onnx.`);
    }
    const missing = missingTransformersJsFiles(folder);
    if (missing.length > 0) {
      throw new Error(
        `Encoder folder ${folder} is missing ${missing.join(', ')}. Export the encoder to ONNX in the transformers.js layout ` +
          '(for example with Optimum: optimum-cli export onnx --model NAME FOLDER, then move model.onnx into FOLDER/onnx/).',
      );
    }
    const dtype = ONNX_FILES.find(({ file }) => fs.existsSync(path.join(folder, 'onnx', file)))!.dtype;

    const transformers = (await import('@huggingface/transformers')) as unknown as TjsModule;
    transformers.env.allowRemoteModels = false;
    transformers.env.allowLocalModels = true;
    transformers.env.localModelPath = path.dirname(folder);
    let extractor: TjsFeatureExtractor;
    try {
      extractor = await transformers.pipeline('feature-extraction', path.basename(folder), { local_files_only: true, dtype });
    } catch (error) {
      throw new Error(`Encoder folder ${folder}: transformers.js could not load the model (${(error as Error).message}).`);
    }
    const encoder = new TransformersJsEncoder(extractor, folder, dtype);
    const maxLength = (extractor.tokenizer as unknown as { model_max_length?: unknown }).model_max_length;
    if (typeof maxLength === 'number' && Number.isFinite(maxLength)) encoder.info.maxTokens = maxLength;
    return encoder;
  }

  async embed(texts: string[]): Promise<TokenEmbedding[]> {
    const special = new Set(this.extractor.tokenizer.all_special_ids);
    const embeddings: TokenEmbedding[] = [];
    for (const text of texts) {
      const ids = (this.extractor.tokenizer(text, { truncation: true }).input_ids.tolist() as (number | bigint)[][])[0].map(Number);
      const output = await this.extractor(text, { pooling: 'none', normalize: false });
      const vectors = (output.tolist() as number[][][])[0]; // (T, C)
      if (vectors.length !== ids.length) {
        throw new Error(`Encoder ${this.info.folder}: ${vectors.length} output vectors for ${ids.length} tokens; the tokenizer and the model disagree.`);
      }
      const keep = ids.map((id, i) => ({ id, i })).filter(({ id }) => !special.has(id));
      embeddings.push({ tokens: keep.map(({ id }) => String(id)), vectors: keep.map(({ i }) => vectors[i]) });
    }
    return embeddings;
  }

  async encode(sentences: string[]): Promise<number[][]> {
    const pooled: number[][] = [];
    for (const sentence of sentences) {
      // transformers.js mean pooling averages over the attention mask, special tokens included, as sentence-transformers does.
      const output = await this.extractor(sentence, { pooling: 'mean', normalize: false });
      pooled.push((output.tolist() as number[][])[0]);
    }
    return pooled;
  }

  dispose(): void {
    void this.extractor.dispose();
  }
}

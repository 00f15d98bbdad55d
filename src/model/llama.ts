import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ProgressCallback } from '../progress';
import { CheckpointReader } from './checkpoint';
import { ModelConfig, parseGenerationEos, parseHfConfig, toHfConfig } from './config';
import { embeddingLookup } from './embedding';
import { KvCache } from './kv-cache';
import { Linear, LinearLayer } from './linear';
import { groupedQueryAttention } from './attention';
import { applyRope, ropeInvFreq, ropeTables } from './rope';
import { writeFileAtomic, writeSafetensors } from './safetensors';

/**
 * Decoder-only transformer of the Llama family (Llama 2/3, Mistral, Qwen2) with Hugging Face tensor names:
 * pre-norm blocks of grouped-query self-attention with RoPE and a SwiGLU MLP, RMSNorm, and an output
 * projection that may share the embedding matrix.
 */

export interface ForwardOptions {
  /** (B, S) with 1 for real tokens and 0 for pads, S = cached length + T; pads are masked out of attention. */
  attentionMask?: tf.Tensor2D;
  /** (B, T) RoPE positions; default: cumsum(mask) - 1 with a mask, else cached length + 0..T-1. */
  positionIds?: tf.Tensor2D;
  /** Keys and values of earlier tokens; the new ones are appended to it. */
  cache?: KvCache;
  /** Passed to every LinearLayer (LoRA dropout); the base model itself has no dropout. */
  training?: boolean;
}

export interface FromPretrainedOptions {
  onProgress?: ProgressCallback;
  /** Weights file inside the folder, e.g. "model-bf16.safetensors"; default model.safetensors or its index. */
  weightsFile?: string;
}

type WeightInit = 'normal' | 'ones' | 'zeros';

/** Lists every tensor of the checkpoint in HF order, with its shape and how randomInit fills it. */
export function weightSpecs(config: ModelConfig): { name: string; shape: number[]; init: WeightInit }[] {
  const { hiddenSize: C, intermediateSize: F, headDim: D, numAttentionHeads: H, numKeyValueHeads: Hkv } = config;
  const specs: { name: string; shape: number[]; init: WeightInit }[] = [
    { name: 'model.embed_tokens.weight', shape: [config.vocabSize, C], init: 'normal' },
  ];
  for (let i = 0; i < config.numHiddenLayers; i++) {
    const prefix = `model.layers.${i}`;
    specs.push({ name: `${prefix}.input_layernorm.weight`, shape: [C], init: 'ones' });
    for (const [proj, out] of [['q_proj', H * D], ['k_proj', Hkv * D], ['v_proj', Hkv * D]] as const) {
      specs.push({ name: `${prefix}.self_attn.${proj}.weight`, shape: [out, C], init: 'normal' });
      if (config.attentionBias) specs.push({ name: `${prefix}.self_attn.${proj}.bias`, shape: [out], init: 'zeros' });
    }
    specs.push({ name: `${prefix}.self_attn.o_proj.weight`, shape: [C, H * D], init: 'normal' });
    specs.push({ name: `${prefix}.post_attention_layernorm.weight`, shape: [C], init: 'ones' });
    specs.push({ name: `${prefix}.mlp.gate_proj.weight`, shape: [F, C], init: 'normal' });
    specs.push({ name: `${prefix}.mlp.up_proj.weight`, shape: [F, C], init: 'normal' });
    specs.push({ name: `${prefix}.mlp.down_proj.weight`, shape: [C, F], init: 'normal' });
  }
  specs.push({ name: 'model.norm.weight', shape: [C], init: 'ones' });
  if (!config.tieWordEmbeddings) specs.push({ name: 'lm_head.weight', shape: [config.vocabSize, C], init: 'normal' });
  return specs;
}

/** Module paths of the projections, the keys of linearLayers() and PEFT's target_modules. */
function linearPaths(config: ModelConfig): string[] {
  const paths: string[] = [];
  for (let i = 0; i < config.numHiddenLayers; i++) {
    for (const proj of ['q_proj', 'k_proj', 'v_proj', 'o_proj']) paths.push(`model.layers.${i}.self_attn.${proj}`);
    for (const proj of ['gate_proj', 'up_proj', 'down_proj']) paths.push(`model.layers.${i}.mlp.${proj}`);
  }
  paths.push('lm_head');
  return paths;
}

function readJson(file: string): unknown {
  if (!fs.existsSync(file)) throw new Error(`File not found: ${file}`);
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`${file}: not valid JSON (${(error as Error).message}).`);
  }
}

/** Reads config.json, with generation_config.json's eos list (and pad id) taking precedence when present. */
export function loadModelConfig(dir: string): ModelConfig {
  const configFile = path.join(dir, 'config.json');
  const config = parseHfConfig(readJson(configFile), configFile);
  const generationFile = path.join(dir, 'generation_config.json');
  if (fs.existsSync(generationFile)) {
    const json = readJson(generationFile);
    const eos = parseGenerationEos(json, generationFile);
    if (eos !== null) config.eosTokenIds = eos;
    const pad = (json as Record<string, unknown>).pad_token_id;
    if (typeof pad === 'number' && Number.isInteger(pad) && pad >= 0) config.padTokenId = pad;
  }
  return config;
}

/**
 * Size of the wasm backend's heap: the tfjs-backend-wasm 4.22 binaries declare at most 65,536 pages of 64 KiB.
 * Every tensor lives there. tfjs does not check for a failed allocation, so weights past the limit end in a
 * "memory access out of bounds" crash at a later allocation instead of an error naming the cause.
 */
const WASM_HEAP_BYTES = 2 ** 32;

/** Rejects, before anything is read, weights whose float32 copy cannot fit in the wasm heap. */
function checkWasmHeap(dir: string, specs: { shape: number[] }[]): void {
  if (tf.getBackend() !== 'wasm') return;
  const bytes = specs.reduce((sum, spec) => sum + spec.shape.reduce((a, b) => a * b, 1) * 4, 0);
  if (bytes >= WASM_HEAP_BYTES) {
    throw new Error(
      `${path.join(dir, 'config.json')}: the weights take ${(bytes / 2 ** 30).toFixed(2)} GiB as float32, more than the 4 GiB heap of the wasm backend. ` +
        'Install @tensorflow/tfjs-node (or tfjs-node-gpu) so lora-lab uses native TensorFlow, or choose a model under about 0.9B parameters.',
    );
  }
  // NOTE: weights just under 4 GiB load, but activations, LoRA and AdamW state need room in the same heap.
}

// Masked attention scores get this finite value, not -inf: a pad query with no visible key then gets a
// uniform softmax instead of NaN, and NaN would reach real tokens through 0 * NaN in probs @ V.
const MASKED_SCORE = -1e9;

export class LlamaForCausalLM {
  private readonly linears: Map<string, LinearLayer>;
  private readonly invFreq: tf.Tensor1D;

  private constructor(
    readonly config: ModelConfig,
    private readonly weights: Map<string, tf.Variable>,
  ) {
    this.invFreq = tf.tensor1d(ropeInvFreq(config));
    this.linears = new Map();
    for (const modulePath of linearPaths(config)) {
      const weight = modulePath === 'lm_head' && config.tieWordEmbeddings ? 'model.embed_tokens.weight' : `${modulePath}.weight`;
      this.linears.set(modulePath, new Linear(this.weight(weight), weights.get(`${modulePath}.bias`) ?? null));
    }
  }

  /** Loads config.json (+ generation_config.json) and the safetensors weights of a HF model folder, tensor by tensor. */
  static async fromPretrained(dir: string, options: FromPretrainedOptions = {}): Promise<LlamaForCausalLM> {
    const config = loadModelConfig(dir);
    const specs = weightSpecs(config);
    checkWasmHeap(dir, specs);
    const reader = CheckpointReader.open(dir, options.weightsFile);
    const weights = new Map<string, tf.Variable>();
    const task = `load ${path.basename(path.resolve(dir))}`;
    const startedAt = Date.now();
    options.onProgress?.({ kind: 'start', task, total: specs.length, unit: 'tensors' });
    try {
      for (const [index, spec] of specs.entries()) {
        const tensor = reader.read(spec.name, spec.shape);
        weights.set(spec.name, tf.tidy(() => tf.variable(tf.tensor(tensor.data, tensor.shape, 'float32'), true)));
        options.onProgress?.({ kind: 'update', task, done: index + 1, total: specs.length });
        // Lets the event loop breathe between tensors of a large checkpoint.
        if (index % 16 === 15) await new Promise((resolve) => setImmediate(resolve));
      }
    } catch (error) {
      for (const variable of weights.values()) variable.dispose();
      throw error;
    } finally {
      reader.close();
    }
    options.onProgress?.({ kind: 'end', task, done: specs.length, seconds: (Date.now() - startedAt) / 1000 });
    return new LlamaForCausalLM(config, weights);
  }

  /**
   * Builds a model with fresh weights for pretraining from scratch: Linear and embedding weights from
   * normal(0, initializerRange), as transformers initialises them, RMSNorm weights 1, biases 0.
   */
  static randomInit(config: ModelConfig, seed: number): LlamaForCausalLM {
    const weights = new Map<string, tf.Variable>();
    for (const [index, spec] of weightSpecs(config).entries()) {
      const variable = tf.tidy(() => {
        if (spec.init === 'ones') return tf.variable(tf.ones(spec.shape), true);
        if (spec.init === 'zeros') return tf.variable(tf.zeros(spec.shape), true);
        return tf.variable(tf.randomNormal(spec.shape, 0, config.initializerRange, 'float32', seed + index), true);
      });
      weights.set(spec.name, variable);
    }
    return new LlamaForCausalLM({ ...config, eosTokenIds: [...config.eosTokenIds] }, weights);
  }

  /** Writes config.json, generation_config.json and model.safetensors (F32, base weights) into `dir`, each atomically. */
  async savePretrained(dir: string): Promise<void> {
    fs.mkdirSync(dir, { recursive: true });
    const tensors = [];
    for (const [name, variable] of this.weights) {
      tensors.push({ name, shape: variable.shape, data: (await variable.data()) as Float32Array });
    }
    writeSafetensors(path.join(dir, 'model.safetensors'), tensors);
    writeFileAtomic(path.join(dir, 'config.json'), `${JSON.stringify(toHfConfig(this.config), null, 2)}\n`);
    const generationConfig = {
      bos_token_id: this.config.bosTokenId,
      eos_token_id: this.config.eosTokenIds.length === 1 ? this.config.eosTokenIds[0] : this.config.eosTokenIds,
      pad_token_id: this.config.padTokenId,
    };
    writeFileAtomic(path.join(dir, 'generation_config.json'), `${JSON.stringify(generationConfig, null, 2)}\n`);
  }

  /** Returns the projections keyed by HF module path ("model.layers.0.self_attn.q_proj", ..., "lm_head"). */
  linearLayers(): Map<string, LinearLayer> {
    return new Map(this.linears);
  }

  /** Swaps the layer at `modulePath`, e.g. for a LoRA wrapper around the current one. */
  replaceLinear(modulePath: string, layer: LinearLayer): void {
    const current = this.linears.get(modulePath);
    if (!current) throw new Error(`replaceLinear: no projection at "${modulePath}"; valid paths look like "model.layers.0.self_attn.q_proj".`);
    if (current.inFeatures !== layer.inFeatures || current.outFeatures !== layer.outFeatures) {
      throw new Error(
        `replaceLinear: "${modulePath}" maps ${current.inFeatures} -> ${current.outFeatures} features, the new layer ${layer.inFeatures} -> ${layer.outFeatures}.`,
      );
    }
    this.linears.set(modulePath, layer);
  }

  /** Returns the base weights as trainable variables, keyed by HF tensor name (no lm_head.weight when tied). */
  namedWeights(): Map<string, tf.Variable> {
    return new Map(this.weights);
  }

  /** Number of base parameters (a tied output projection counted once). */
  parameterCount(): number {
    let count = 0;
    for (const variable of this.weights.values()) count += variable.size;
    return count;
  }

  createCache(): KvCache {
    return new KvCache(this.config.numHiddenLayers);
  }

  /** Computes float32 logits (B, T, vocab) for token ids (B, T); see ForwardOptions for masks, positions and caching. */
  forward(inputIds: tf.Tensor2D, options: ForwardOptions = {}): tf.Tensor3D {
    const { attentionMask, cache } = options;
    const training = options.training ?? false;
    return tf.tidy(() => {
      const [B, T] = inputIds.shape;
      const past = cache?.length ?? 0;
      const S = past + T;
      if (attentionMask && (attentionMask.shape[0] !== B || attentionMask.shape[1] !== S)) {
        throw new Error(
          `forward: attentionMask has shape [${attentionMask.shape.join(', ')}], expected [${B}, ${S}] (cached ${past} + new ${T} tokens).`,
        );
      }
      if (this.config.slidingWindow !== null && S > this.config.slidingWindow) {
        // NOTE: Mistral's sliding-window mask is not implemented; within the window attention is exact.
        throw new Error(`forward: ${S} tokens exceed the sliding window of ${this.config.slidingWindow}, which is not implemented.`);
      }

      const positions = this.positions(B, T, past, options); // (B|1, T)
      const { cos, sin } = ropeTables(positions, this.invFreq); // (B|1, 1, T, D)
      const bias = this.attentionBias(T, past, attentionMask); // (B|1, 1, T, S)

      let x = embeddingLookup(this.weight('model.embed_tokens.weight'), inputIds) as tf.Tensor3D; // (B, T, C)
      for (let i = 0; i < this.config.numHiddenLayers; i++) {
        const prefix = `model.layers.${i}`;
        x = x.add(this.attention(i, this.rmsNorm(x, `${prefix}.input_layernorm.weight`), cos, sin, bias, cache, training));
        x = x.add(this.mlp(i, this.rmsNorm(x, `${prefix}.post_attention_layernorm.weight`), training));
      }
      x = this.rmsNorm(x, 'model.norm.weight');
      return this.linear('lm_head').apply(x, training) as tf.Tensor3D; // (B, T, V)
    });
  }

  dispose(): void {
    for (const layer of this.linears.values()) layer.dispose();
    for (const variable of this.weights.values()) {
      if (!variable.isDisposed) variable.dispose();
    }
    this.invFreq.dispose();
  }

  /** Position ids: given ones, cumsum(mask) - 1 (pads at 0) with a mask, or past..past+T-1. */
  private positions(B: number, T: number, past: number, options: ForwardOptions): tf.Tensor2D {
    if (options.positionIds) {
      if (options.positionIds.shape[0] !== B || options.positionIds.shape[1] !== T) {
        throw new Error(`forward: positionIds has shape [${options.positionIds.shape.join(', ')}], expected [${B}, ${T}].`);
      }
      return options.positionIds;
    }
    if (options.attentionMask) {
      const counted = tf.cumsum(options.attentionMask.toInt(), 1).sub(1).maximum(0); // (B, S)
      return counted.slice([0, past], [B, T]) as tf.Tensor2D;
    }
    return tf.range(past, past + T, 1, 'int32').reshape([1, T]);
  }

  /** Additive score bias: 0 where query i (at column past + i) may see key j, MASKED_SCORE elsewhere. */
  private attentionBias(T: number, past: number, attentionMask?: tf.Tensor2D): tf.Tensor4D {
    const S = past + T;
    const queryColumns = tf.range(past, S, 1, 'int32').reshape([T, 1]);
    const keyColumns = tf.range(0, S, 1, 'int32').reshape([1, S]);
    let visible = tf.lessEqual(keyColumns, queryColumns).reshape([1, 1, T, S]); // causal
    if (attentionMask) {
      const [B] = attentionMask.shape;
      visible = tf.logicalAnd(visible, tf.equal(attentionMask.toInt(), 1).reshape([B, 1, 1, S])); // (B, 1, T, S)
    }
    return tf.sub(1, visible.toFloat()).mul(MASKED_SCORE) as tf.Tensor4D;
  }

  /** x * rsqrt(mean(x^2) + eps) * weight over the last axis. */
  private rmsNorm(x: tf.Tensor3D, weightName: string): tf.Tensor3D {
    const meanSquare = tf.mean(tf.square(x), -1, true); // (B, T, 1)
    return x.mul(tf.rsqrt(meanSquare.add(this.config.rmsNormEps))).mul(this.weight(weightName));
  }

  private attention(
    layer: number,
    x: tf.Tensor3D,
    cos: tf.Tensor4D,
    sin: tf.Tensor4D,
    bias: tf.Tensor4D,
    cache: KvCache | undefined,
    training: boolean,
  ): tf.Tensor3D {
    const { numAttentionHeads: H, numKeyValueHeads: Hkv, headDim: D } = this.config;
    const [B, T] = x.shape;
    const prefix = `model.layers.${layer}.self_attn`;
    const heads = (t: tf.Tensor, n: number) => t.reshape([B, T, n, D]).transpose([0, 2, 1, 3]) as tf.Tensor4D; // (B, n, T, D)

    // Projections; RoPE after the q/k bias and before caching k.
    let q = heads(this.linear(`${prefix}.q_proj`).apply(x, training), H); // (B, H, T, D)
    let k = heads(this.linear(`${prefix}.k_proj`).apply(x, training), Hkv); // (B, Hkv, T, D)
    let v = heads(this.linear(`${prefix}.v_proj`).apply(x, training), Hkv); // (B, Hkv, T, D)
    q = applyRope(q, cos, sin);
    k = applyRope(k, cos, sin);
    if (cache) ({ keys: k, values: v } = cache.append(layer, k, v)); // (B, Hkv, S, D)
    const S = k.shape[2];

    const out = groupedQueryAttention(q, k, v, bias, 1 / Math.sqrt(D)); // (B, H, T, D)

    // Heads back side by side: (B, H, T, D) -> (B, T, H*D).
    const merged = out.transpose([0, 2, 1, 3]).reshape([B, T, H * D]);
    return this.linear(`${prefix}.o_proj`).apply(merged, training) as tf.Tensor3D;
  }

  /** SwiGLU: down_proj(silu(gate_proj(x)) * up_proj(x)). */
  private mlp(layer: number, x: tf.Tensor3D, training: boolean): tf.Tensor3D {
    const prefix = `model.layers.${layer}.mlp`;
    const gate = this.linear(`${prefix}.gate_proj`).apply(x, training); // (B, T, F)
    const up = this.linear(`${prefix}.up_proj`).apply(x, training); // (B, T, F)
    const hidden = tf.mul(gate.mul(tf.sigmoid(gate)), up);
    return this.linear(`${prefix}.down_proj`).apply(hidden, training) as tf.Tensor3D; // (B, T, C)
  }

  private weight(name: string): tf.Variable {
    const variable = this.weights.get(name);
    if (!variable) throw new Error(`Internal error: weight "${name}" was not loaded.`);
    return variable;
  }

  private linear(modulePath: string): LinearLayer {
    const layer = this.linears.get(modulePath);
    if (!layer) throw new Error(`Internal error: no projection at "${modulePath}".`);
    return layer;
  }
}

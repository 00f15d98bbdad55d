/**
 * Typed configuration of a Llama-family decoder, mapped from and to Hugging Face config.json in one place.
 * One model definition covers LlamaForCausalLM, MistralForCausalLM and Qwen2ForCausalLM: they differ only in
 * the values below (q/k/v biases for Qwen2, tied embeddings, RoPE parameters).
 */

export const SUPPORTED_ARCHITECTURES = ['LlamaForCausalLM', 'MistralForCausalLM', 'Qwen2ForCausalLM'] as const;
export type Architecture = (typeof SUPPORTED_ARCHITECTURES)[number];
export type ModelType = 'llama' | 'mistral' | 'qwen2';

const MODEL_TYPES: Record<Architecture, ModelType> = {
  LlamaForCausalLM: 'llama',
  MistralForCausalLM: 'mistral',
  Qwen2ForCausalLM: 'qwen2',
};

/** Llama 3.1 / 3.2 frequency-dependent RoPE rescaling ("rope_type": "llama3"). */
export interface Llama3RopeScaling {
  ropeType: 'llama3';
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalMaxPositionEmbeddings: number;
}

export interface ModelConfig {
  architecture: Architecture;
  modelType: ModelType;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  numKeyValueHeads: number;
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  /** null means plain RoPE. */
  ropeScaling: Llama3RopeScaling | null;
  maxPositionEmbeddings: number;
  tieWordEmbeddings: boolean;
  /** Biases on q_proj, k_proj and v_proj (always true for Qwen2); o_proj and the MLP never have one here. */
  attentionBias: boolean;
  /** Mistral's sliding attention window in tokens, or null for full causal attention. */
  slidingWindow: number | null;
  bosTokenId: number | null;
  /** Token ids that end generation; generation_config.json's list replaces config.json's when present. */
  eosTokenIds: number[];
  padTokenId: number | null;
  /** Standard deviation of the normal initialisation used by randomInit. */
  initializerRange: number;
}

type Json = Record<string, unknown>;

class ConfigReader {
  constructor(
    private readonly json: Json,
    readonly file: string,
  ) {}

  fail(key: string, problem: string): never {
    throw new Error(`${this.file}: "${key}" ${problem}`);
  }

  has(key: string): boolean {
    return this.json[key] !== undefined && this.json[key] !== null;
  }

  number(key: string, fallback?: number): number {
    const value = this.json[key];
    if (value === undefined || value === null) {
      if (fallback === undefined) this.fail(key, 'is missing; add it to the file (see the model card for its value).');
      return fallback;
    }
    if (typeof value !== 'number' || !Number.isFinite(value)) this.fail(key, `must be a number, got ${JSON.stringify(value)}.`);
    return value;
  }

  positiveInt(key: string, fallback?: number): number {
    const value = this.number(key, fallback);
    if (!Number.isInteger(value) || value <= 0) this.fail(key, `must be a positive integer, got ${value}.`);
    return value;
  }

  tokenId(key: string): number | null {
    const value = this.json[key];
    if (value === undefined || value === null) return null;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) this.fail(key, `must be a token id, got ${JSON.stringify(value)}.`);
    return value;
  }

  tokenIds(key: string): number[] {
    const value = this.json[key];
    if (value === undefined || value === null) return [];
    const list = Array.isArray(value) ? value : [value];
    for (const id of list) {
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) this.fail(key, `must be a token id or a list of them, got ${JSON.stringify(value)}.`);
    }
    return list as number[];
  }

  boolean(key: string, fallback: boolean): boolean {
    const value = this.json[key];
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'boolean') this.fail(key, `must be true or false, got ${JSON.stringify(value)}.`);
    return value;
  }
}

function parseArchitecture(json: Json, reader: ConfigReader): Architecture {
  const architectures = json.architectures;
  if (Array.isArray(architectures) && architectures.length > 0) {
    const name = architectures[0];
    if ((SUPPORTED_ARCHITECTURES as readonly unknown[]).includes(name)) return name as Architecture;
    reader.fail('architectures', `is ${JSON.stringify(architectures)}; supported: ${SUPPORTED_ARCHITECTURES.join(', ')}.`);
  }
  const modelType = json.model_type;
  const match = Object.entries(MODEL_TYPES).find(([, type]) => type === modelType);
  if (match) return match[0] as Architecture;
  reader.fail('model_type', `is ${JSON.stringify(modelType)} and "architectures" is missing; supported model types: ${Object.values(MODEL_TYPES).join(', ')}.`);
}

/**
 * Reads RoPE parameters from `rope_parameters` (transformers 5, which also moves rope_theta there) or
 * `rope_scaling` (transformers 4, with the type under "rope_type" or the older "type").
 */
function parseRope(json: Json, reader: ConfigReader): { ropeTheta: number; ropeScaling: Llama3RopeScaling | null } {
  const parametersKey = json.rope_parameters !== undefined && json.rope_parameters !== null ? 'rope_parameters' : 'rope_scaling';
  const raw = json[parametersKey];
  let ropeTheta = reader.number('rope_theta', 10000);
  if (raw === undefined || raw === null) return { ropeTheta, ropeScaling: null };
  if (typeof raw !== 'object' || Array.isArray(raw)) reader.fail(parametersKey, `must be an object or null, got ${JSON.stringify(raw)}.`);

  const params = raw as Json;
  const inner = new ConfigReader(params, reader.file);
  if (params.rope_theta !== undefined) ropeTheta = inner.number('rope_theta');
  const ropeType = params.rope_type ?? params.type ?? 'default';
  if (ropeType === 'default') return { ropeTheta, ropeScaling: null };
  if (ropeType !== 'llama3') {
    reader.fail(
      `${parametersKey}.rope_type`,
      `is ${JSON.stringify(ropeType)}, which lora-lab does not implement (supported: default, llama3); running without it would give wrong logits.`,
    );
  }
  const scaling: Llama3RopeScaling = {
    ropeType: 'llama3',
    factor: inner.number('factor'),
    lowFreqFactor: inner.number('low_freq_factor'),
    highFreqFactor: inner.number('high_freq_factor'),
    originalMaxPositionEmbeddings: inner.positiveInt('original_max_position_embeddings'),
  };
  if (!(scaling.highFreqFactor > scaling.lowFreqFactor)) {
    reader.fail(`${parametersKey}.high_freq_factor`, `must be greater than low_freq_factor (${scaling.lowFreqFactor}), got ${scaling.highFreqFactor}.`);
  }
  return { ropeTheta, ropeScaling: scaling };
}

/** Maps a parsed Hugging Face config.json to a ModelConfig; `file` names the source in error messages. */
export function parseHfConfig(json: unknown, file: string): ModelConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`${file}: expected a JSON object at the top level.`);
  const raw = json as Json;
  const reader = new ConfigReader(raw, file);
  const architecture = parseArchitecture(raw, reader);
  const modelType = MODEL_TYPES[architecture];

  const hiddenAct = raw.hidden_act ?? raw.hidden_activation ?? 'silu';
  if (hiddenAct !== 'silu') reader.fail('hidden_act', `is ${JSON.stringify(hiddenAct)}; only "silu" (SwiGLU MLP) is implemented.`);
  if (reader.boolean('mlp_bias', false)) reader.fail('mlp_bias', 'is true; MLP biases are not implemented.');
  // Llama's attention_bias also puts a bias on o_proj, unlike Qwen2's fixed q/k/v biases.
  if (modelType !== 'qwen2' && reader.boolean('attention_bias', false)) {
    reader.fail('attention_bias', 'is true; attention biases are implemented for Qwen2 (q/k/v) only.');
  }

  const hiddenSize = reader.positiveInt('hidden_size');
  const numAttentionHeads = reader.positiveInt('num_attention_heads');
  const numKeyValueHeads = reader.positiveInt('num_key_value_heads', numAttentionHeads);
  if (numAttentionHeads % numKeyValueHeads !== 0) {
    reader.fail('num_key_value_heads', `(${numKeyValueHeads}) must divide num_attention_heads (${numAttentionHeads}).`);
  }
  if (!reader.has('head_dim') && hiddenSize % numAttentionHeads !== 0) {
    reader.fail('head_dim', `is missing and hidden_size (${hiddenSize}) is not divisible by num_attention_heads (${numAttentionHeads}).`);
  }
  const headDim = reader.positiveInt('head_dim', hiddenSize / numAttentionHeads);
  if (headDim % 2 !== 0) reader.fail('head_dim', `must be even for RoPE, got ${headDim}.`);

  // Qwen2 configs carry sliding_window even when use_sliding_window is false; only Mistral's value is used.
  let slidingWindow: number | null = null;
  if (modelType === 'mistral' && reader.has('sliding_window')) slidingWindow = reader.positiveInt('sliding_window');
  if (modelType === 'qwen2' && reader.boolean('use_sliding_window', false)) {
    reader.fail('use_sliding_window', 'is true; sliding-window attention is implemented for Mistral only.');
  }

  const { ropeTheta, ropeScaling } = parseRope(raw, reader);
  const vocabSize = reader.positiveInt('vocab_size');
  const padTokenId = reader.tokenId('pad_token_id');
  const eosTokenIds = reader.tokenIds('eos_token_id');
  for (const id of [...eosTokenIds, padTokenId]) {
    if (id !== null && id >= vocabSize) reader.fail('eos_token_id', `contains ${id}, outside the vocabulary of ${vocabSize} tokens.`);
  }

  return {
    architecture,
    modelType,
    vocabSize,
    hiddenSize,
    intermediateSize: reader.positiveInt('intermediate_size'),
    numHiddenLayers: reader.positiveInt('num_hidden_layers'),
    numAttentionHeads,
    numKeyValueHeads,
    headDim,
    rmsNormEps: reader.number('rms_norm_eps', 1e-6),
    ropeTheta,
    ropeScaling,
    maxPositionEmbeddings: reader.positiveInt('max_position_embeddings', 2048),
    tieWordEmbeddings: reader.boolean('tie_word_embeddings', false),
    attentionBias: modelType === 'qwen2',
    slidingWindow,
    bosTokenId: reader.tokenId('bos_token_id'),
    eosTokenIds,
    padTokenId,
    initializerRange: reader.number('initializer_range', 0.02),
  };
}

/** Reads the stop ids of generation_config.json; returns null when the file sets none. */
export function parseGenerationEos(json: unknown, file: string): number[] | null {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`${file}: expected a JSON object at the top level.`);
  const reader = new ConfigReader(json as Json, file);
  return reader.has('eos_token_id') ? reader.tokenIds('eos_token_id') : null;
}

/** Writes a config.json object that transformers (4.4x and 5) loads into the same model. */
export function toHfConfig(config: ModelConfig): Record<string, unknown> {
  const ropeScaling = config.ropeScaling
    ? {
        rope_type: 'llama3',
        factor: config.ropeScaling.factor,
        low_freq_factor: config.ropeScaling.lowFreqFactor,
        high_freq_factor: config.ropeScaling.highFreqFactor,
        original_max_position_embeddings: config.ropeScaling.originalMaxPositionEmbeddings,
      }
    : null;
  const out: Record<string, unknown> = {
    architectures: [config.architecture],
    model_type: config.modelType,
    vocab_size: config.vocabSize,
    hidden_size: config.hiddenSize,
    intermediate_size: config.intermediateSize,
    num_hidden_layers: config.numHiddenLayers,
    num_attention_heads: config.numAttentionHeads,
    num_key_value_heads: config.numKeyValueHeads,
    head_dim: config.headDim,
    hidden_act: 'silu',
    rms_norm_eps: config.rmsNormEps,
    rope_theta: config.ropeTheta,
    rope_scaling: ropeScaling,
    max_position_embeddings: config.maxPositionEmbeddings,
    tie_word_embeddings: config.tieWordEmbeddings,
    bos_token_id: config.bosTokenId,
    eos_token_id: config.eosTokenIds.length === 1 ? config.eosTokenIds[0] : config.eosTokenIds,
    pad_token_id: config.padTokenId,
    initializer_range: config.initializerRange,
    torch_dtype: 'float32',
    use_cache: true,
  };
  if (config.modelType === 'llama') {
    out.attention_bias = false;
    out.mlp_bias = false;
  }
  if (config.modelType === 'mistral') out.sliding_window = config.slidingWindow;
  if (config.modelType === 'qwen2') out.use_sliding_window = false;
  return out;
}

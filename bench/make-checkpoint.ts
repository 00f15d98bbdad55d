import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { float32ToBf16 } from '../src/model/safetensors';

/**
 * Writes a Llama checkpoint with random BF16 weights, sharded like the Hub's checkpoints
 * (model-0000k-of-0000n.safetensors plus model.safetensors.index.json), to measure loading.
 * The weights are noise: the folder has no tokenizer and the model generates nothing useful.
 *
 *   node --import tsx bench/make-checkpoint.ts --out /tmp/llama-400m --params 400e6 --shards 2
 */

export interface CheckpointSpec {
  /** Target parameter count; the layer count is chosen to come closest. */
  params: number;
  shards: number;
  hiddenSize: number;
  vocabSize: number;
  seed: number;
}

export interface WrittenCheckpoint {
  dir: string;
  parameters: number;
  /** Bytes of the safetensors files on disk (BF16 data plus headers). */
  fileBytes: number;
  /** Bytes the weights take once widened to float32, the form lora-lab computes with. */
  float32Bytes: number;
  /** Element count of the largest tensor (the embedding or lm_head for usual shapes). */
  largestTensorParams: number;
  config: Record<string, unknown>;
}

interface TensorEntry {
  name: string;
  shape: number[];
  init: 'normal' | 'ones';
}

/** Llama shapes: head_dim 64, about a third as many KV heads as query heads, a SwiGLU width of about 2.75 × hidden. */
function llamaConfig(spec: CheckpointSpec): Record<string, unknown> {
  const C = spec.hiddenSize;
  if (C % 64 !== 0) throw new Error(`--hidden must be a multiple of 64 (head_dim 64), got ${C}.`);
  const heads = C / 64;
  // The largest divisor of the head count up to a third of it, e.g. 9 -> 3, 16 -> 4, 32 -> 8.
  let kvHeads = 1;
  for (let d = 1; d <= heads / 3; d++) if (heads % d === 0) kvHeads = d;
  const F = Math.ceil((C * 2.75) / 64) * 64;
  const perLayer = 2 * C * C + 2 * C * kvHeads * 64 + 3 * C * F + 2 * C;
  const embedding = 2 * spec.vocabSize * C;
  const layers = Math.max(1, Math.round((spec.params - embedding - C) / perLayer));
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: spec.vocabSize,
    hidden_size: C,
    intermediate_size: F,
    num_hidden_layers: layers,
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    head_dim: 64,
    max_position_embeddings: 2048,
    rms_norm_eps: 1e-5,
    rope_theta: 10000.0,
    rope_scaling: null,
    hidden_act: 'silu',
    attention_bias: false,
    tie_word_embeddings: false,
    bos_token_id: 1,
    eos_token_id: 2,
    torch_dtype: 'bfloat16',
  };
}

function tensorList(config: Record<string, unknown>): TensorEntry[] {
  const C = config.hidden_size as number;
  const F = config.intermediate_size as number;
  const kv = (config.num_key_value_heads as number) * 64;
  const V = config.vocab_size as number;
  const list: TensorEntry[] = [{ name: 'model.embed_tokens.weight', shape: [V, C], init: 'normal' }];
  for (let i = 0; i < (config.num_hidden_layers as number); i++) {
    const p = `model.layers.${i}`;
    list.push(
      { name: `${p}.input_layernorm.weight`, shape: [C], init: 'ones' },
      { name: `${p}.self_attn.q_proj.weight`, shape: [C, C], init: 'normal' },
      { name: `${p}.self_attn.k_proj.weight`, shape: [kv, C], init: 'normal' },
      { name: `${p}.self_attn.v_proj.weight`, shape: [kv, C], init: 'normal' },
      { name: `${p}.self_attn.o_proj.weight`, shape: [C, C], init: 'normal' },
      { name: `${p}.post_attention_layernorm.weight`, shape: [C], init: 'ones' },
      { name: `${p}.mlp.gate_proj.weight`, shape: [F, C], init: 'normal' },
      { name: `${p}.mlp.up_proj.weight`, shape: [F, C], init: 'normal' },
      { name: `${p}.mlp.down_proj.weight`, shape: [C, F], init: 'normal' },
    );
  }
  list.push({ name: 'model.norm.weight', shape: [C], init: 'ones' }, { name: 'lm_head.weight', shape: [V, C], init: 'normal' });
  return list;
}

/** Uniform noise in ±0.03 from a xorshift32 generator: cheap, and the values never matter. */
function fillRandom(out: Float32Array, state: { x: number }): void {
  let x = state.x;
  for (let i = 0; i < out.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = ((x >>> 0) / 4294967296 - 0.5) * 0.06;
  }
  state.x = x;
}

/** Writes one shard: header, then each tensor converted to BF16 as it is generated. */
function writeShard(file: string, tensors: TensorEntry[], state: { x: number }): number {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const tensor of tensors) {
    const bytes = tensor.shape.reduce((a, b) => a * b, 1) * 2;
    header[tensor.name] = { dtype: 'BF16', shape: tensor.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let headerText = JSON.stringify(header);
  headerText += ' '.repeat((8 - (Buffer.byteLength(headerText) % 8)) % 8);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(Buffer.byteLength(headerText)));

  const fd = fs.openSync(file, 'w');
  try {
    fs.writeSync(fd, length);
    fs.writeSync(fd, headerText);
    for (const tensor of tensors) {
      const values = new Float32Array(tensor.shape.reduce((a, b) => a * b, 1));
      if (tensor.init === 'ones') values.fill(1);
      else fillRandom(values, state);
      const bits = float32ToBf16(values);
      fs.writeSync(fd, new Uint8Array(bits.buffer, bits.byteOffset, bits.byteLength));
    }
  } finally {
    fs.closeSync(fd);
  }
  return 8 + Buffer.byteLength(headerText) + offset;
}

/** Writes config.json, the shards and model.safetensors.index.json into `dir` (created, or emptied of safetensors files). */
export function makeCheckpoint(dir: string, spec: CheckpointSpec): WrittenCheckpoint {
  if (!Number.isInteger(spec.shards) || spec.shards < 1) throw new Error(`--shards must be a positive integer, got ${spec.shards}.`);
  const config = llamaConfig(spec);
  const tensors = tensorList(config);
  const parameters = tensors.reduce((sum, t) => sum + t.shape.reduce((a, b) => a * b, 1), 0);

  // Shards split at tensor boundaries, each taking about 1/shards of the parameters.
  const groups: TensorEntry[][] = Array.from({ length: spec.shards }, () => []);
  let running = 0;
  for (const tensor of tensors) {
    const shard = Math.min(spec.shards - 1, Math.floor((running / parameters) * spec.shards));
    groups[shard].push(tensor);
    running += tensor.shape.reduce((a, b) => a * b, 1);
  }
  if (groups.some((group) => group.length === 0)) throw new Error(`--shards ${spec.shards} is more than this model has tensors to split; lower it.`);

  fs.mkdirSync(dir, { recursive: true });
  for (const name of fs.readdirSync(dir)) if (name.endsWith('.safetensors')) fs.rmSync(path.join(dir, name));
  const state = { x: spec.seed >>> 0 || 1 };
  const weightMap: Record<string, string> = {};
  let fileBytes = 0;
  groups.forEach((group, i) => {
    const shardName = `model-${String(i + 1).padStart(5, '0')}-of-${String(spec.shards).padStart(5, '0')}.safetensors`;
    fileBytes += writeShard(path.join(dir, shardName), group, state);
    for (const tensor of group) weightMap[tensor.name] = shardName;
  });
  const index = { metadata: { total_size: parameters * 2 }, weight_map: weightMap };
  fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), `${JSON.stringify(index, null, 2)}\n`);
  fs.writeFileSync(path.join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  const largestTensorParams = Math.max(...tensors.map((t) => t.shape.reduce((a, b) => a * b, 1)));
  return { dir, parameters, fileBytes, float32Bytes: parameters * 4, largestTensorParams, config };
}

function main(): void {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      params: { type: 'string', default: '400e6' },
      shards: { type: 'string', default: '2' },
      hidden: { type: 'string', default: '1024' },
      vocab: { type: 'string', default: '32000' },
      seed: { type: 'string', default: '1' },
    },
  });
  if (!values.out) throw new Error('--out DIR is required: the folder to write the checkpoint into (outside the repository, e.g. /tmp/llama-400m).');
  const spec: CheckpointSpec = {
    params: Number(values.params),
    shards: Number(values.shards),
    hiddenSize: Number(values.hidden),
    vocabSize: Number(values.vocab),
    seed: Number(values.seed),
  };
  for (const [key, value] of Object.entries(spec)) {
    if (!Number.isFinite(value) || value <= 0) throw new Error(`--${key} must be a positive number, got ${JSON.stringify(value)}.`);
  }
  const started = Date.now();
  const written = makeCheckpoint(path.resolve(values.out), spec);
  console.log(
    `${written.dir}: ${written.parameters.toLocaleString('en-US')} parameters in ${spec.shards} BF16 shards, ` +
      `${(written.fileBytes / 1e9).toFixed(3)} GB on disk, ${(written.float32Bytes / 1e9).toFixed(3)} GB as float32 ` +
      `(${written.config.num_hidden_layers} layers, hidden ${written.config.hidden_size}); ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
}

if (require.main === module) {
  try {
    main();
  } catch (error) {
    console.error(`make-checkpoint: ${(error as Error).message}`);
    process.exitCode = 1;
  }
}

import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import { generate } from '../src/generation/generate';
import { parseHfConfig, toHfConfig } from '../src/model/config';
import { embeddingLookup } from '../src/model/embedding';
import { Linear } from '../src/model/linear';
import { LlamaForCausalLM } from '../src/model/llama';
import { causalLmLoss } from '../src/model/loss';
import { f16ToFloat32, float32ToBf16, SafetensorsFile, writeSafetensors } from '../src/model/safetensors';
import { sharedPath } from './helpers/shared';

const llamaTiny = sharedPath('fixtures', 'llama-tiny');
const llamaConfig = JSON.parse(fs.readFileSync(path.join(llamaTiny, 'config.json'), 'utf8')) as Record<string, unknown>;
const ids = [1, 38, 78, 84, 31, 59, 82, 58];

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'lora-lab-model-'));
}

function readAll(file: string): { name: string; shape: number[]; data: Float32Array }[] {
  const reader = SafetensorsFile.open(file);
  const tensors = [...reader.tensors.keys()].map((name) => reader.read(name));
  reader.close();
  return tensors;
}

function logits(model: LlamaForCausalLM): Float32Array {
  return tf.tidy(() => model.forward(tf.tensor2d([ids], [1, ids.length], 'int32')).dataSync() as Float32Array);
}

before(async () => {
  await initBackend();
});

test('fromPretrained missing folder', async () => {
  await assert.rejects(LlamaForCausalLM.fromPretrained('/nonexistent/model'), /File not found: \/nonexistent\/model\/config.json/);
});

test('fromPretrained rejects GPT-2', async () => {
  const dir = sharedPath('models', 'gpt2-tiny-random');
  await assert.rejects(LlamaForCausalLM.fromPretrained(dir), (error: Error) => {
    assert.match(error.message, /gpt2-tiny-random\/config.json: "architectures" is \["GPT2LMHeadModel"\]/);
    return true;
  });
});

test('fromPretrained wrong tensor shape', async () => {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(llamaConfig));
  const tensors = readAll(path.join(llamaTiny, 'model.safetensors'));
  const index = tensors.findIndex((t) => t.name === 'model.layers.1.self_attn.k_proj.weight');
  tensors[index] = { name: tensors[index].name, shape: [16, 64], data: new Float32Array(16 * 64) };
  writeSafetensors(path.join(dir, 'model.safetensors'), tensors);
  await assert.rejects(
    LlamaForCausalLM.fromPretrained(dir),
    /model.safetensors: tensor "model.layers.1.self_attn.k_proj.weight" has shape \[16, 64\], but config.json implies \[32, 64\]/,
  );
  fs.rmSync(dir, { recursive: true });
});

test('fromPretrained missing tensor', async () => {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(llamaConfig));
  const tensors = readAll(path.join(llamaTiny, 'model.safetensors')).filter((t) => t.name !== 'lm_head.weight');
  writeSafetensors(path.join(dir, 'model.safetensors'), tensors);
  await assert.rejects(LlamaForCausalLM.fromPretrained(dir), /Tensor "lm_head.weight" is missing from the weights in/);
  fs.rmSync(dir, { recursive: true });
});

test('parseHfConfig rejects unsupported rope scaling', () => {
  for (const type of ['linear', 'dynamic', 'yarn', 'longrope']) {
    assert.throws(() => parseHfConfig({ ...llamaConfig, rope_scaling: { type, factor: 2 } }, 'x/config.json'), /x\/config.json: "rope_scaling.rope_type" is "/);
    assert.throws(
      () => parseHfConfig({ ...llamaConfig, rope_parameters: { rope_type: type, rope_theta: 1e4, factor: 2 } }, 'x/config.json'),
      /"rope_parameters.rope_type"/,
    );
  }
});

test('parseHfConfig reads rope_parameters', () => {
  const config = parseHfConfig(
    {
      ...llamaConfig,
      rope_theta: undefined,
      rope_parameters: { rope_type: 'llama3', rope_theta: 500000, factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
    },
    'config.json',
  );
  assert.equal(config.ropeTheta, 500000);
  assert.deepEqual(config.ropeScaling, { ropeType: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 });
  assert.equal(parseHfConfig({ ...llamaConfig, rope_parameters: { rope_type: 'default', rope_theta: 1234 } }, 'c').ropeTheta, 1234);
});

test('parseHfConfig missing key', () => {
  assert.throws(() => parseHfConfig({ ...llamaConfig, hidden_size: undefined }, 'm/config.json'), /m\/config.json: "hidden_size" is missing/);
  assert.throws(() => parseHfConfig({ ...llamaConfig, num_key_value_heads: 3 }, 'm/config.json'), /"num_key_value_heads" \(3\) must divide/);
});

test('toHfConfig round trip', () => {
  for (const name of ['llama-tiny', 'qwen2-tiny', 'llama3-rope-tiny']) {
    const file = sharedPath('fixtures', name, 'config.json');
    const config = parseHfConfig(JSON.parse(fs.readFileSync(file, 'utf8')), file);
    assert.deepEqual(parseHfConfig(toHfConfig(config), 'written'), config, name);
  }
});

test('savePretrained round trip', async () => {
  const model = await LlamaForCausalLM.fromPretrained(sharedPath('fixtures', 'llama3-rope-tiny'));
  const dir = tempDir();
  await model.savePretrained(dir);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['config.json', 'generation_config.json', 'model.safetensors']);
  const reloaded = await LlamaForCausalLM.fromPretrained(dir);
  assert.deepEqual(reloaded.config, model.config);
  assert.deepEqual(logits(reloaded), logits(model));
  model.dispose();
  reloaded.dispose();
  fs.rmSync(dir, { recursive: true });
});

test('sharded checkpoint loads', async () => {
  const dir = tempDir();
  fs.copyFileSync(path.join(llamaTiny, 'config.json'), path.join(dir, 'config.json'));
  const tensors = readAll(path.join(llamaTiny, 'model.safetensors'));
  const half = Math.floor(tensors.length / 2);
  const shards = { 'model-00001-of-00002.safetensors': tensors.slice(0, half), 'model-00002-of-00002.safetensors': tensors.slice(half) };
  const weightMap: Record<string, string> = {};
  for (const [file, part] of Object.entries(shards)) {
    writeSafetensors(path.join(dir, file), part);
    for (const t of part) weightMap[t.name] = file;
  }
  fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  const sharded = await LlamaForCausalLM.fromPretrained(dir);
  const single = await LlamaForCausalLM.fromPretrained(llamaTiny);
  assert.deepEqual(logits(sharded), logits(single));
  sharded.dispose();
  single.dispose();
  fs.rmSync(dir, { recursive: true });
});

test('writeSafetensors header and data', () => {
  const dir = tempDir();
  const file = path.join(dir, 'a.safetensors');
  writeSafetensors(file, [{ name: 'w', shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) }], { note: 'x' });
  assert.deepEqual(fs.readdirSync(dir), ['a.safetensors']);
  const bytes = fs.readFileSync(file);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  assert.equal(headerLength % 8, 0);
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8'));
  assert.deepEqual(header.w, { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] });
  assert.equal(header.__metadata__.note, 'x');
  assert.deepEqual(Array.from(readAll(file)[0].data), [1, 2, 3, 4, 5, 6]);
  fs.rmSync(dir, { recursive: true });
});

test('float32ToBf16 rounds to nearest even', () => {
  const bits = new Uint32Array([0x3f808000, 0x3f818000, 0x3f808001, 0x3f807fff, 0x7fc00001]);
  const rounded = float32ToBf16(new Float32Array(bits.buffer));
  assert.deepEqual(Array.from(rounded), [0x3f80, 0x3f82, 0x3f81, 0x3f80, 0x7fc0]);
});

test('f16ToFloat32 typed-in values', () => {
  const values = f16ToFloat32(new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0x3555]));
  assert.deepEqual(Array.from(values.subarray(0, 5)), [1, -2, 65504, 2 ** -24, Infinity]);
  assert.ok(Math.abs(values[5] - 0.333251953125) < 1e-12);
});

test('embedding gradient counts rows', () => {
  const table = tf.variable(tf.randomNormal([5, 3], 0, 1, 'float32', 1));
  const lookupIds = tf.tensor2d([[1, 3, 1]], [1, 3], 'int32');
  const { grads } = tf.variableGrads(() => tf.sum(embeddingLookup(table, lookupIds)) as tf.Scalar, [table]);
  assert.deepEqual(grads[table.name].arraySync(), [[0, 0, 0], [2, 2, 2], [0, 0, 0], [1, 1, 1], [0, 0, 0]]);
  tf.dispose([table, lookupIds, grads[table.name]]);
});

test('training gradient reaches every weight', () => {
  const config = parseHfConfig(JSON.parse(fs.readFileSync(sharedPath('fixtures', 'qwen2-tiny', 'config.json'), 'utf8')), 'qwen2');
  const model = LlamaForCausalLM.randomInit(config, 7);
  const weights = [...model.namedWeights().values()];
  const input = tf.tensor2d([ids], [1, ids.length], 'int32');
  const { value, grads } = tf.variableGrads(() => causalLmLoss(model.forward(input, { training: true }), input), weights);
  // A uniform-ish random model scores about ln(vocab) nats per token.
  assert.ok(Math.abs(value.dataSync()[0] - Math.log(config.vocabSize)) < 0.5, `loss ${value.dataSync()[0]}`);
  for (const [name, variable] of model.namedWeights()) {
    const norm = tf.tidy(() => tf.norm(grads[variable.name]).dataSync()[0]);
    assert.ok(Number.isFinite(norm), `${name}: gradient norm ${norm} is finite`);
    assert.ok(norm > 0, `${name}: gradient norm ${norm} is positive`);
  }
  tf.dispose([input, value, ...Object.values(grads)]);
  model.dispose();
});

test('randomInit shapes and norms', () => {
  const config = parseHfConfig(llamaConfig, 'llama');
  const model = LlamaForCausalLM.randomInit(config, 1);
  const weights = model.namedWeights();
  assert.deepEqual(weights.get('model.layers.0.mlp.down_proj.weight')?.shape, [64, 160]);
  assert.deepEqual(Array.from(weights.get('model.norm.weight')!.dataSync()), new Array(64).fill(1));
  const std = tf.tidy(() => tf.moments(weights.get('model.layers.0.mlp.up_proj.weight')!).variance.sqrt().dataSync()[0]);
  assert.ok(Math.abs(std - config.initializerRange) < 0.002, `std ${std}`);
  assert.equal(model.parameterCount(), 97 * 64 * 2 + 64 + 2 * (2 * 64 + 64 * 64 * 2 + 32 * 64 * 2 + 3 * 160 * 64));
  model.dispose();
});

test('replaceLinear wraps a projection', async () => {
  const model = await LlamaForCausalLM.fromPretrained(llamaTiny);
  const before = logits(model);
  const modulePath = 'model.layers.0.self_attn.v_proj';
  const base = model.linearLayers().get(modulePath)!;
  const doubled = { inFeatures: base.inFeatures, outFeatures: base.outFeatures, apply: (x: tf.Tensor, training: boolean) => tf.tidy(() => base.apply(x, training).mul(2)), dispose: () => base.dispose() };
  model.replaceLinear(modulePath, doubled);
  assert.notDeepEqual(logits(model), before);
  assert.throws(() => model.replaceLinear('model.layers.9.self_attn.q_proj', doubled), /no projection at "model.layers.9.self_attn.q_proj"/);
  const wrongShape = new Linear(tf.variable(tf.zeros([3, 64])));
  assert.throws(() => model.replaceLinear(modulePath, wrongShape), /maps 64 -> 32 features, the new layer 64 -> 3/);
  wrongShape.dispose();
  model.dispose();
});

test('no tensor leak over forwards and generation', async () => {
  const model = await LlamaForCausalLM.fromPretrained(sharedPath('fixtures', 'qwen2-tiny'));
  const input = tf.tensor2d([ids, ids], [2, ids.length], 'int32');
  const mask = tf.tensor2d([ids.map(() => 1), ids.map((_, i) => (i < 2 ? 0 : 1))], [2, ids.length], 'int32');
  const run = async () => {
    tf.dispose(model.forward(input, { attentionMask: mask }));
    const cache = model.createCache();
    tf.dispose(model.forward(input, { attentionMask: mask, cache }));
    cache.dispose();
    await generate(model, [ids, ids.slice(0, 3)], { maxNewTokens: 4, doSample: true, topP: 0.9, seed: 3 });
    await generate(model, [ids], { maxNewTokens: 3, useCache: false });
  };
  await run();
  const count = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) await run();
  assert.equal(tf.memory().numTensors, count);
  tf.dispose([input, mask]);
  model.dispose();
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import { LlamaForCausalLM } from '../src/model/llama';
import { causalLmLoss } from '../src/model/loss';
import { SafetensorsFile } from '../src/model/safetensors';
import { loadAdapter, saveAdapter, peftTensorName } from '../src/lora/adapter';
import { injectLora } from '../src/lora/inject';
import { DEFAULT_LORA_CONFIG } from '../src/lora/config';
import { LoraLinear } from '../src/lora/layer';
import { AdamW } from '../src/train/adamw';
import { sharedPath } from './helpers/shared';

// Expected values come from the independent PyTorch reference in the shared fixtures (float64,
// 6 significant digits). Tolerances are the ones their READMEs state.
const FIXTURES = ['llama-tiny', 'qwen2-tiny', 'llama3-rope-tiny'] as const;
const LOGIT_TOLERANCE = 1e-4;
const GRADIENT_TOLERANCE = 1e-3;
const MERGED_WEIGHT_TOLERANCE = 1e-5;

interface Cases {
  lora_scaling: number;
  sequences: { input_ids: number[]; labels: number[] }[];
  expected: {
    base: { logits: number[][][]; loss: number[] };
    adapter: { logits: number[][][]; loss: number[]; batch_loss: number };
    adapter_grads_seq0: { loss: number; grads: Record<string, number[][]> };
    merged: Record<string, number[][]>;
  };
}

function readCases(fixture: string): Cases {
  return JSON.parse(fs.readFileSync(sharedPath('fixtures', fixture, 'cases.json'), 'utf8')) as Cases;
}

function assertClose(actual: ArrayLike<number>, expected: number[], tolerance: (want: number) => number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let worst = 0;
  let worstIndex = -1;
  for (let i = 0; i < expected.length; i++) {
    const excess = Math.abs(actual[i] - expected[i]) - tolerance(expected[i]);
    if (excess > worst) {
      worst = excess;
      worstIndex = i;
    }
  }
  assert.ok(worstIndex < 0, `${what}: index ${worstIndex} got ${actual[worstIndex]}, expected ${expected[worstIndex]}`);
}

const relative = (scale: number) => (want: number) => scale * Math.max(1, Math.abs(want));

function logitsOf(model: LlamaForCausalLM, ids: number[], training = false): Float32Array {
  return tf.tidy(() => model.forward(tf.tensor2d([ids], [1, ids.length], 'int32'), { training }).dataSync() as Float32Array);
}

function lossOf(model: LlamaForCausalLM, ids: number[], labels: number[]): number {
  return tf.tidy(() =>
    causalLmLoss(model.forward(tf.tensor2d([ids], [1, ids.length], 'int32')), tf.tensor2d([labels], [1, labels.length], 'int32')).dataSync()[0],
  );
}

for (const fixture of FIXTURES) {
  test(`${fixture}: adapter logits and losses match PEFT`, async () => {
    await initBackend();
    const cases = readCases(fixture);
    const model = await LlamaForCausalLM.fromPretrained(sharedPath('fixtures', fixture));
    const lora = loadAdapter(model, sharedPath('fixtures', fixture, 'adapter'));
    assert.equal([...lora.adapters.values()][0].scaling, cases.lora_scaling);
    cases.sequences.forEach((sequence, k) => {
      assertClose(logitsOf(model, sequence.input_ids), cases.expected.adapter.logits[k].flat(), relative(LOGIT_TOLERANCE), `logits seq ${k}`);
      assertClose([lossOf(model, sequence.input_ids, sequence.labels)], [cases.expected.adapter.loss[k]], relative(LOGIT_TOLERANCE), `loss seq ${k}`);
    });
    lora.remove();
    assertClose(logitsOf(model, cases.sequences[0].input_ids), cases.expected.base.logits[0].flat(), relative(LOGIT_TOLERANCE), 'base logits after remove');
    model.dispose();
  });

  test(`${fixture}: adapter gradients match PEFT`, async () => {
    await initBackend();
    const cases = readCases(fixture);
    const model = await LlamaForCausalLM.fromPretrained(sharedPath('fixtures', fixture));
    const lora = loadAdapter(model, sharedPath('fixtures', fixture, 'adapter'));
    const { input_ids: ids, labels } = cases.sequences[0];
    const variables = lora.trainableVariables();
    const { value, grads } = tf.variableGrads(
      () => causalLmLoss(model.forward(tf.tensor2d([ids], [1, ids.length], 'int32'), { training: false }), tf.tensor2d([labels], [1, labels.length], 'int32')),
      variables,
    );
    assertClose([value.dataSync()[0]], [cases.expected.adapter_grads_seq0.loss], relative(LOGIT_TOLERANCE), 'loss');
    for (const [modulePath, layer] of lora.adapters) {
      for (const [matrix, variable] of [['lora_A', layer.loraA], ['lora_B', layer.loraB]] as const) {
        const name = peftTensorName(modulePath, matrix);
        const want = cases.expected.adapter_grads_seq0.grads[name].flat();
        const scale = Math.max(...want.map(Math.abs));
        assertClose(grads[variable.name].dataSync(), want, () => GRADIENT_TOLERANCE * scale, `gradient ${name}`);
      }
    }
    tf.dispose([value, ...Object.values(grads)]);
    model.dispose();
  });

  test(`${fixture}: merge matches PEFT and unmerge restores`, async () => {
    await initBackend();
    const cases = readCases(fixture);
    const model = await LlamaForCausalLM.fromPretrained(sharedPath('fixtures', fixture));
    const lora = loadAdapter(model, sharedPath('fixtures', fixture, 'adapter'));
    const ids = cases.sequences[1].input_ids;
    const unmergedLogits = logitsOf(model, ids);
    const qProj = lora.adapters.get('model.layers.0.self_attn.q_proj');
    assert.ok(qProj, 'layer 0 q_proj carries an adapter');
    const baseWeight = qProj.base.weight.dataSync().slice();

    lora.merge();
    assertClose(qProj.base.weight.dataSync(), cases.expected.merged['model.layers.0.self_attn.q_proj.weight'].flat(), () => MERGED_WEIGHT_TOLERANCE, 'merged q_proj');
    assertClose(logitsOf(model, ids), Array.from(unmergedLogits), () => 1e-5, 'merged against unmerged logits');

    lora.unmerge();
    assertClose(qProj.base.weight.dataSync(), Array.from(baseWeight), () => 1e-6, 'unmerged q_proj');
    assertClose(logitsOf(model, ids), Array.from(unmergedLogits), () => 1e-5, 'logits after unmerge');
    model.dispose();
  });
}

test('zero-B adapter leaves logits unchanged', async () => {
  await initBackend();
  const cases = readCases('llama-tiny');
  const model = await LlamaForCausalLM.fromPretrained(sharedPath('fixtures', 'llama-tiny'));
  const ids = cases.sequences[0].input_ids;
  const before = logitsOf(model, ids);
  const lora = injectLora(model, { ...DEFAULT_LORA_CONFIG, targetModules: 'all-linear', loraDropout: 0 }, { seed: 3 });
  for (const layer of lora.adapters.values()) {
    assert.ok(layer.loraB.dataSync().every((value) => value === 0), `${layer.path}: B starts at zero`);
    assert.ok(layer.loraA.dataSync().some((value) => value !== 0), `${layer.path}: A starts random`);
  }
  const after = logitsOf(model, ids);
  assert.deepEqual(Array.from(after), Array.from(before));
  model.dispose();
});

test('kaiming-uniform A stays within 1/sqrt(in)', async () => {
  await initBackend();
  const model = await LlamaForCausalLM.fromPretrained(sharedPath('fixtures', 'qwen2-tiny'));
  const lora = injectLora(model, { ...DEFAULT_LORA_CONFIG, r: 4, targetModules: ['q_proj', 'down_proj'] }, { seed: 1 });
  for (const layer of lora.adapters.values()) {
    const bound = 1 / Math.sqrt(layer.inFeatures);
    const values = layer.loraA.dataSync();
    assert.ok(values.every((value) => Math.abs(value) <= bound), `${layer.path}: |A| <= ${bound}`);
    // A uniform draw of this size spreads over most of the interval.
    assert.ok(Math.max(...values.map(Math.abs)) > 0.9 * bound, `${layer.path}: values fill the interval`);
  }
  model.dispose();
});

test('parameter counts follow r(in + out)', async () => {
  await initBackend();
  const model = await LlamaForCausalLM.fromPretrained(sharedPath('fixtures', 'llama-tiny'));
  const baseCount = model.parameterCount();
  // llama-tiny: hidden 64, 4 heads of 16 (q out 64), 2 kv heads (v out 32), 2 layers.
  // q_proj: 8·(64 + 64) = 1024, v_proj: 8·(64 + 32) = 768, per layer 1792, two layers 3584.
  const lora = injectLora(model, { ...DEFAULT_LORA_CONFIG, r: 8, targetModules: ['q_proj', 'v_proj'] });
  const counts = lora.parameterCounts();
  assert.equal(counts.trainable, 3584);
  assert.equal(counts.total, baseCount + 3584);
  assert.match(lora.describeParameters(), /^trainable params: 3,584 \|\| all params: [\d,]+ \|\| trainable%: \d+\.\d{4}$/);
  model.dispose();
});

test('rsLoRA scales by alpha over sqrt(r)', async () => {
  await initBackend();
  const cases = readCases('llama-tiny');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lora-rslora-'));
  const source = sharedPath('fixtures', 'llama-tiny', 'adapter');
  fs.copyFileSync(path.join(source, 'adapter_model.safetensors'), path.join(dir, 'adapter_model.safetensors'));
  const config = JSON.parse(fs.readFileSync(path.join(source, 'adapter_config.json'), 'utf8'));
  fs.writeFileSync(path.join(dir, 'adapter_config.json'), JSON.stringify({ ...config, use_rslora: true }));

  const model = await LlamaForCausalLM.fromPretrained(sharedPath('fixtures', 'llama-tiny'));
  const qProjBase = (model.linearLayers().get('model.layers.0.self_attn.q_proj') as unknown as { weight: tf.Variable }).weight.dataSync().slice();
  const lora = loadAdapter(model, dir);
  const qProj = lora.adapters.get('model.layers.0.self_attn.q_proj') as LoraLinear;
  // r = 4, alpha = 8: rsLoRA scaling is 8 / sqrt(4) = 4, twice the 8 / 4 = 2 of plain LoRA.
  assert.equal(qProj.scaling, 4);
  lora.merge();
  const expectedMerged = cases.expected.merged['model.layers.0.self_attn.q_proj.weight'].flat().map((merged, i) => qProjBase[i] + 2 * (merged - qProjBase[i]));
  assertClose(qProj.base.weight.dataSync(), expectedMerged, () => 2 * MERGED_WEIGHT_TOLERANCE, 'rsLoRA merged q_proj');
  model.dispose();
});

test('dropout acts in training mode only', async () => {
  await initBackend();
  const cases = readCases('qwen2-tiny'); // its adapter_config.json has lora_dropout 0.1
  const model = await LlamaForCausalLM.fromPretrained(sharedPath('fixtures', 'qwen2-tiny'));
  const lora = loadAdapter(model, sharedPath('fixtures', 'qwen2-tiny', 'adapter'));
  assert.equal(lora.config.loraDropout, 0.1);
  const ids = cases.sequences[0].input_ids;
  assertClose(logitsOf(model, ids, false), cases.expected.adapter.logits[0].flat(), relative(LOGIT_TOLERANCE), 'eval-mode logits');
  const trainingLogits = logitsOf(model, ids, true);
  const largestChange = Math.max(...Array.from(trainingLogits).map((value, i) => Math.abs(value - cases.expected.adapter.logits[0].flat()[i])));
  assert.ok(largestChange > 1e-3, `training-mode dropout should move logits, moved ${largestChange}`);
  model.dispose();
});

test('adapter save and load round trip is byte-stable', async () => {
  await initBackend();
  const model = await LlamaForCausalLM.fromPretrained(sharedPath('fixtures', 'qwen2-tiny'));
  const source = sharedPath('fixtures', 'qwen2-tiny', 'adapter');
  const lora = loadAdapter(model, source);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lora-roundtrip-'));
  await saveAdapter(dir, lora, 'qwen2-tiny');

  const original = SafetensorsFile.open(path.join(source, 'adapter_model.safetensors'));
  const saved = SafetensorsFile.open(path.join(dir, 'adapter_model.safetensors'));
  assert.deepEqual([...saved.tensors.keys()].sort(), [...original.tensors.keys()].sort());
  for (const name of original.tensors.keys()) {
    const a = original.read(name);
    const b = saved.read(name);
    assert.deepEqual(b.shape, a.shape, `${name}: shape`);
    assert.ok(Buffer.from(a.data.buffer).equals(Buffer.from(b.data.buffer)), `${name}: bytes`);
  }
  original.close();
  saved.close();
  const config = JSON.parse(fs.readFileSync(path.join(dir, 'adapter_config.json'), 'utf8'));
  assert.equal(config.peft_type, 'LORA');
  assert.equal(config.r, 4);
  assert.equal(config.lora_alpha, 16);
  assert.deepEqual(config.target_modules, ['k_proj', 'o_proj', 'q_proj', 'v_proj']);
  model.dispose();
});

test('bad LoRA configs name the field', async () => {
  await initBackend();
  const model = await LlamaForCausalLM.fromPretrained(sharedPath('fixtures', 'llama-tiny'));
  assert.throws(() => injectLora(model, { ...DEFAULT_LORA_CONFIG, r: 0 }), /r must be an integer >= 1, got 0/);
  assert.throws(() => injectLora(model, { ...DEFAULT_LORA_CONFIG, targetModules: ['query_key_value'] }), /target_modules \["query_key_value"\] match no module/);
  assert.throws(() => injectLora(model, { ...DEFAULT_LORA_CONFIG, loraDropout: 1 }), /lora_dropout must be in \[0, 1\)/);
  model.dispose();
});

test('training steps keep the tensor count flat', async () => {
  await initBackend();
  const cases = readCases('llama-tiny');
  const model = await LlamaForCausalLM.fromPretrained(sharedPath('fixtures', 'llama-tiny'));
  const lora = injectLora(model, { ...DEFAULT_LORA_CONFIG, r: 4 }, { seed: 5 });
  
  const optimizer = new AdamW({ learningRate: 1e-2 });
  const variables = lora.trainableVariables();
  const { input_ids: ids, labels } = cases.sequences[0];
  const step = () => {
    const { value, grads } = tf.variableGrads(
      () => causalLmLoss(model.forward(tf.tensor2d([ids], [1, ids.length], 'int32'), { training: true }), tf.tensor2d([labels], [1, labels.length], 'int32')),
      variables,
    );
    optimizer.applyGradients(variables, variables.map((variable) => grads[variable.name]));
    const loss = value.dataSync()[0];
    tf.dispose([value, ...Object.values(grads)]);
    return loss;
  };
  const firstLoss = step();
  const tensorsAfterFirst = tf.memory().numTensors;
  let lastLoss = firstLoss;
  for (let i = 0; i < 20; i++) lastLoss = step();
  assert.equal(tf.memory().numTensors, tensorsAfterFirst);
  assert.ok(lastLoss < firstLoss, `loss should fall when fitting one sequence: ${firstLoss} -> ${lastLoss}`);
  optimizer.dispose();
  model.dispose();
});

test('withAdaptersDisabled gives base logits', async () => {
  await initBackend();
  const cases = readCases('llama-tiny');
  const model = await LlamaForCausalLM.fromPretrained(sharedPath('fixtures', 'llama-tiny'));
  const lora = loadAdapter(model, sharedPath('fixtures', 'llama-tiny', 'adapter'));
  const ids = cases.sequences[0].input_ids;
  const baseLogits = await lora.withAdaptersDisabled(() => logitsOf(model, ids));
  assertClose(baseLogits, cases.expected.base.logits[0].flat(), relative(LOGIT_TOLERANCE), 'disabled-adapter logits');
  assertClose(logitsOf(model, ids), cases.expected.adapter.logits[0].flat(), relative(LOGIT_TOLERANCE), 'adapter logits after re-enabling');
  model.dispose();
});

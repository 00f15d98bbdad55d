import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import {
  type ArchitectureShape,
  REFERENCE_ARCHITECTURES,
  baseParameterCount,
  deltaNormRows,
  effectiveRank,
  energyFraction,
  expectedRandomDeltaNorm,
  fullFineTuningMemory,
  loraParameterCount,
  loraParameterRows,
  loraTrainingMemory,
  loraTrainingStep,
  lowRankSingularValues,
  matrix,
  matrixFromRows,
  moduleSpectrum,
  spectrumSummary,
  maxAbsDifference,
  randomDeltaNorm,
  randomMatrixWithNorm,
  readAdapterFactors,
  scalingRows,
  singularValues,
  frobeniusNorm,
} from '../src/lora/analysis';
import { injectLora } from '../src/lora/inject';
import { DEFAULT_LORA_CONFIG } from '../src/lora/config';
import { LlamaForCausalLM, loadModelConfig } from '../src/model/llama';
import { causalLmLoss } from '../src/model/loss';
import { SafetensorsFile } from '../src/model/safetensors';
import { AdamW } from '../src/train/adamw';
import { sharedPath } from './helpers/shared';

// Singular values are computed in float64, so hand-known values must agree to 1e-12 of σ_max.
const SVD_TOLERANCE = 1e-12;

function architecture(name: string): ArchitectureShape {
  const found = REFERENCE_ARCHITECTURES.find((item) => item.name === name);
  if (!found) throw new Error(`no reference architecture ${name}`);
  return found.shape;
}

function assertValuesClose(actual: ArrayLike<number>, expected: number[], tolerance: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: count`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tolerance, `${what}[${i}]: got ${actual[i]}, expected ${expected[i]} ± ${tolerance}`);
  }
}

/** Row-major product of two plain matrices, for building test inputs. */
function multiply(a: number[][], b: number[][]): number[][] {
  return a.map((row) => b[0].map((_, j) => row.reduce((sum, value, k) => sum + value * b[k][j], 0)));
}

function transpose(a: number[][]): number[][] {
  return a[0].map((_, j) => a.map((row) => row[j]));
}

// Rotations about the z and x axes: orthogonal by construction.
const rotationZ = (t: number) => [[Math.cos(t), -Math.sin(t), 0], [Math.sin(t), Math.cos(t), 0], [0, 0, 1]];
const rotationX = (t: number) => [[1, 0, 0], [0, Math.cos(t), -Math.sin(t)], [0, Math.sin(t), Math.cos(t)]];

test('baseParameterCount matches published totals', () => {
  for (const item of REFERENCE_ARCHITECTURES) {
    const billions = baseParameterCount(item.shape) / 1e9;
    assert.equal(`${billions.toFixed(2)}B`, item.publishedParameters, `${item.name}: ${baseParameterCount(item.shape)} parameters`);
  }
});

test('baseParameterCount exact for reference models', () => {
  // By hand from config.json. Llama 3.2 1B: embedding 128256·2048 = 262,668,288; per layer q 2048², k and v
  // 2048·512 each, o 2048², MLP 3·2048·8192, norms 2·2048 = 60,821,504, times 16; final norm 2048; tied head.
  assert.equal(baseParameterCount(architecture('Llama 3.2 1B')), 262_668_288 + 16 * 60_821_504 + 2048);
  assert.equal(baseParameterCount(architecture('Llama 3.2 1B')), 1_235_814_400);
  // Llama 3.2 3B: 128256·3072 + 28·(2·3072² + 2·3072·1024 + 3·3072·8192 + 2·3072) + 3072.
  assert.equal(baseParameterCount(architecture('Llama 3.2 3B')), 394_002_432 + 28 * 100_669_440 + 3072);
  // Mistral 7B v0.1: untied, so the 32000·4096 embedding counts twice.
  assert.equal(baseParameterCount(architecture('Mistral 7B v0.1')), 2 * 131_072_000 + 32 * 218_112_000 + 4096);
});

test('baseParameterCount matches fixture checkpoints', () => {
  // The PyTorch fixtures' safetensors hold every parameter once; qwen2-tiny has q/k/v biases and a tied head.
  for (const fixture of ['llama-tiny', 'qwen2-tiny']) {
    const dir = sharedPath('fixtures', fixture);
    const file = SafetensorsFile.open(path.join(dir, 'model.safetensors'));
    let stored = 0;
    for (const info of file.tensors.values()) stored += info.shape.reduce((a, b) => a * b, 1);
    file.close();
    assert.equal(baseParameterCount(loadModelConfig(dir)), stored, fixture);
  }
});

test('loraParameterCount hand-computed values', () => {
  const oneB = architecture('Llama 3.2 1B');
  // q,v at r=8: 16 layers · 8 · ((2048 + 2048) + (2048 + 512)).
  assert.equal(loraParameterCount(oneB, 8, ['q_proj', 'v_proj']), 16 * 8 * (4096 + 2560));
  assert.equal(loraParameterCount(oneB, 8, ['q_proj', 'v_proj']), 851_968);
  // all-linear at r=16: per layer 16 · (4096 + 2560 + 2560 + 4096 + 3 · 10240).
  assert.equal(loraParameterCount(oneB, 16, 'all-linear'), 16 * 16 * 44_032);
  assert.equal(loraParameterCount(oneB, 16, 'all-linear'), 11_272_192);
});

test('loraParameterCount matches injectLora', async () => {
  await initBackend();
  const dir = sharedPath('fixtures', 'llama-tiny');
  const model = await LlamaForCausalLM.fromPretrained(dir);
  try {
    for (const [r, targetModules] of [[4, ['q_proj', 'v_proj']], [8, 'all-linear']] as const) {
      const lora = injectLora(model, { ...DEFAULT_LORA_CONFIG, r, targetModules: targetModules === 'all-linear' ? targetModules : [...targetModules] });
      assert.equal(loraParameterCount(model.config, r, targetModules === 'all-linear' ? targetModules : [...targetModules]), lora.parameterCounts().trainable, `r=${r} ${targetModules}`);
      lora.remove();
    }
  } finally {
    model.dispose();
  }
});

test('loraParameterCount rejects unknown target', () => {
  assert.throws(() => loraParameterCount(architecture('Llama 3.2 1B'), 8, ['c_attn']), /c_attn.*match no projection/);
  assert.throws(() => loraParameterCount(architecture('Llama 3.2 1B'), 0, ['q_proj']), /r must be an integer >= 1/);
});

test('loraParameterRows percent of full', () => {
  const rows = loraParameterRows(REFERENCE_ARCHITECTURES.slice(0, 1), [8], { 'q,v': ['q_proj', 'v_proj'] });
  assert.equal(rows.length, 1);
  assert.equal(rows[0].loraParameters, 851_968);
  assert.ok(Math.abs(rows[0].percentOfFull - (100 * 851_968) / 1_235_814_400) < 1e-12);
});

// A shape small enough to count by hand: embedding 10·4 = 40; q 4·4 = 16, k and v 4·2 = 8 each, o 16;
// gate, up, down 4·8 = 32 each; two layer norms 8; final norm 4; tied head. Total 196.
const HAND_SHAPE: ArchitectureShape = {
  vocabSize: 10,
  hiddenSize: 4,
  intermediateSize: 8,
  numHiddenLayers: 1,
  numAttentionHeads: 2,
  numKeyValueHeads: 1,
  headDim: 2,
  tieWordEmbeddings: true,
  attentionBias: false,
};

test('fullFineTuningMemory hand-computed bytes', () => {
  assert.equal(baseParameterCount(HAND_SHAPE), 196);
  assert.deepEqual(fullFineTuningMemory(HAND_SHAPE, 'float32'), { weights: 784, gradients: 784, adamM: 784, adamV: 784, total: 3136 });
  assert.deepEqual(fullFineTuningMemory(HAND_SHAPE, 'bfloat16'), { weights: 392, gradients: 392, adamM: 784, adamV: 784, total: 2352 });
  // Llama 3.2 1B in float32: 16 bytes per parameter.
  assert.equal(fullFineTuningMemory(architecture('Llama 3.2 1B'), 'float32').total, 16 * 1_235_814_400);
});

test('loraTrainingMemory hand-computed bytes', () => {
  // r=1 on q (4 + 4) and v (4 + 2): 14 adapter parameters in float32.
  assert.equal(loraParameterCount(HAND_SHAPE, 1, ['q_proj', 'v_proj']), 14);
  assert.deepEqual(loraTrainingMemory(HAND_SHAPE, 'float32', 1, ['q_proj', 'v_proj']), { weights: 784 + 56, gradients: 56, adamM: 56, adamV: 56, total: 1008 });
  assert.deepEqual(loraTrainingMemory(HAND_SHAPE, 'bfloat16', 1, ['q_proj', 'v_proj']), { weights: 392 + 56, gradients: 56, adamM: 56, adamV: 56, total: 616 });
});

test('scalingRows classic and rsLoRA', () => {
  assert.deepEqual(scalingRows([4, 16], 16), [
    { r: 4, classic: 4, rslora: 8 },
    { r: 16, classic: 1, rslora: 4 },
  ]);
});

test('randomDeltaNorm near its expectation', async () => {
  await initBackend();
  const options = { inFeatures: 256, outFeatures: 256, r: 16, scaling: 2, bStd: 0.01 };
  const expected = expectedRandomDeltaNorm(options);
  // 2 · 0.01 · sqrt(256 · 16 / 3) by hand.
  assert.ok(Math.abs(expected - 0.02 * Math.sqrt(4096 / 3)) < 1e-12);
  for (const seed of [1, 2, 3]) {
    const measured = randomDeltaNorm({ ...options, seed });
    assert.ok(Math.abs(measured / expected - 1) < 0.05, `seed ${seed}: measured ${measured}, expected ${expected} within 5%`);
  }
});

test('deltaNormRows rsLoRA keeps norm flat', async () => {
  await initBackend();
  const rows = deltaNormRows({ inFeatures: 128, outFeatures: 128, loraAlpha: 16, bStd: 0.01, ranks: [2, 8, 32], seed: 5 });
  const rsNorms = rows.map((row) => row.rsloraNorm);
  const classicNorms = rows.map((row) => row.classicNorm);
  assert.ok(Math.max(...rsNorms) / Math.min(...rsNorms) < 1.3, `rsLoRA norms ${rsNorms}`);
  // alpha/r: the norm falls as 1/sqrt(r), so a factor 16 in rank gives about a factor 4.
  const ratio = classicNorms[0] / classicNorms[2];
  assert.ok(ratio > 3, `classic norms ${classicNorms}`);
  assert.ok(ratio < 5.3, `classic norms ${classicNorms}`);
});

test('singularValues of diagonal matrices', () => {
  assertValuesClose(singularValues(matrixFromRows([[3, 0, 0], [0, -1, 0], [0, 0, 2]])), [3, 2, 1], 3 * SVD_TOLERANCE, '3×3 diagonal');
  assertValuesClose(singularValues(matrixFromRows([[0, 0, 0], [0, 0, 0]])), [0, 0], 0, 'zero 2×3');
  assertValuesClose(singularValues(matrixFromRows([[4, 0, 0], [0, 0.5, 0]])), [4, 0.5], 4 * SVD_TOLERANCE, 'wide 2×3 diagonal');
});

test('singularValues of orthogonal times diagonal', () => {
  const u = multiply(rotationZ(0.3), rotationX(1.1));
  const v = multiply(rotationX(-0.7), rotationZ(2.0));
  const d = [[5, 0, 0], [0, 2, 0], [0, 0, 0.5]];
  const m = multiply(multiply(u, d), transpose(v));
  assertValuesClose(singularValues(matrixFromRows(m)), [5, 2, 0.5], 5 * SVD_TOLERANCE, 'U·D·Vᵀ');
  assertValuesClose(singularValues(matrixFromRows(transpose(m))), [5, 2, 0.5], 5 * SVD_TOLERANCE, '(U·D·Vᵀ)ᵀ');
});

test('singularValues of rank-1 outer product', () => {
  // u = [1, 2, 2] (norm 3), v = [3, 4] (norm 5): σ = 15 and 0.
  const outer = [1, 2, 2].map((ui) => [3, 4].map((vj) => ui * vj));
  const values = singularValues(matrixFromRows(outer));
  assertValuesClose(values, [15, 0], 15 * SVD_TOLERANCE * 10, 'u·vᵀ');
});

test('singularValues of textbook 2×3', () => {
  // [[3, 2, 2], [2, 3, -2]]: A·Aᵀ = [[17, 8], [8, 17]], eigenvalues 25 and 9, so σ = 5 and 3.
  assertValuesClose(singularValues(matrixFromRows([[3, 2, 2], [2, 3, -2]])), [5, 3], 5 * SVD_TOLERANCE, 'textbook');
});

test('singularValues matches numpy LAPACK', (t) => {
  const probe = spawnSync('/usr/bin/python3', ['-c', 'import numpy'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    t.skip('Debian python3-numpy not installed');
    return;
  }
  const random = randomMatrixWithNorm(23, 17, 10, 11);
  const rows = Array.from({ length: 23 }, (_, i) => Array.from(random.data.subarray(i * 17, (i + 1) * 17)));
  const script = 'import json, sys, numpy; m = numpy.array(json.load(sys.stdin)); print(json.dumps(numpy.linalg.svd(m, compute_uv=False).tolist()))';
  const result = spawnSync('/usr/bin/python3', ['-c', script], { input: JSON.stringify(rows), encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  const expected = JSON.parse(result.stdout) as number[];
  assertValuesClose(singularValues(random), expected, expected[0] * SVD_TOLERANCE * 10, 'random 23×17');
});

test('lowRankSingularValues rank-1 with scaling', () => {
  const b = matrix(3, 1, [1, 2, 2]);
  const a = matrix(1, 2, [3, 4]);
  assertValuesClose(lowRankSingularValues(b, a, 2), [30], 30 * SVD_TOLERANCE, 'scaling·u·vᵀ');
});

test('lowRankSingularValues orthonormal factors', () => {
  // B = Q·diag(3, 1) with Q the first two columns of a rotation, A = the first two rows of another rotation.
  const q = multiply(rotationZ(0.4), rotationX(0.9));
  const b = q.map((row) => [row[0] * 3, row[1] * 1]);
  const a = multiply(rotationX(1.3), rotationZ(-0.2)).slice(0, 2);
  assertValuesClose(lowRankSingularValues(matrixFromRows(b), matrixFromRows(a)), [3, 1], 3 * SVD_TOLERANCE, 'Q·D·P');
});

test('lowRankSingularValues matches full product', () => {
  const b = randomMatrixWithNorm(40, 6, 3, 21);
  const a = randomMatrixWithNorm(6, 30, 2, 22);
  const product = new Float64Array(40 * 30);
  for (let i = 0; i < 40; i++) {
    for (let k = 0; k < 6; k++) {
      for (let j = 0; j < 30; j++) product[i * 30 + j] += 0.5 * b.data[i * 6 + k] * a.data[k * 30 + j];
    }
  }
  const full = singularValues({ rows: 40, cols: 30, data: product });
  const low = lowRankSingularValues(b, a, 0.5);
  assertValuesClose(low, Array.from(full.subarray(0, 6)), full[0] * 1e-11, 'low-rank against full');
  assert.ok(full[6] < full[0] * 1e-12, `σ_7 of a rank-6 product is ${full[6]}`);
});

test('lowRankSingularValues zero B', () => {
  assertValuesClose(lowRankSingularValues(matrix(5, 2, new Array(10).fill(0)), randomMatrixWithNorm(2, 4, 1, 3)), [0, 0], 0, 'B = 0');
  assert.throws(() => lowRankSingularValues(matrix(5, 2, new Array(10).fill(0)), matrix(3, 1, [1, 2, 3])), /B's columns must equal A's rows/);
});

test('energyFraction and effectiveRank', () => {
  assert.equal(energyFraction([4, 3], 1), 16 / 25);
  assert.equal(energyFraction([0, 0], 1), 0);
  assert.ok(Math.abs(effectiveRank([2, 2, 2, 2]) - 4) < 1e-12);
  assert.equal(effectiveRank([5, 0, 0]), 1);
});

test('randomMatrixWithNorm has requested norm', () => {
  const m = randomMatrixWithNorm(7, 9, 2.5, 4);
  assert.ok(Math.abs(frobeniusNorm(m.data) - 2.5) < 1e-12);
});

test('readAdapterFactors reads fixture adapter', () => {
  const factors = readAdapterFactors(sharedPath('fixtures', 'llama-tiny', 'adapter'));
  const cases = JSON.parse(fs.readFileSync(sharedPath('fixtures', 'llama-tiny', 'cases.json'), 'utf8')) as { lora_scaling: number };
  assert.deepEqual(factors.map((item) => item.module).sort(), [
    'model.layers.0.self_attn.q_proj',
    'model.layers.0.self_attn.v_proj',
    'model.layers.1.self_attn.q_proj',
    'model.layers.1.self_attn.v_proj',
  ]);
  for (const item of factors) {
    assert.equal(item.scaling, cases.lora_scaling);
    assert.deepEqual([item.a.rows, item.a.cols], [4, 64], `${item.module} A`);
    assert.equal(item.b.cols, 4, `${item.module} B columns`);
  }
});

test('zero-init, training step and merge on fixture', async () => {
  await initBackend();
  const dir = sharedPath('fixtures', 'llama-tiny');
  const cases = JSON.parse(fs.readFileSync(path.join(dir, 'cases.json'), 'utf8')) as { sequences: { input_ids: number[]; labels: number[] }[] };
  const model = await LlamaForCausalLM.fromPretrained(dir);
  const ids = tf.tensor2d([cases.sequences[0].input_ids], undefined, 'int32');
  const labels = tf.tensor2d([cases.sequences[0].labels], undefined, 'int32');
  const baseQ = model.namedWeights().get('model.layers.0.self_attn.q_proj.weight')!.clone();
  try {
    const before = model.forward(ids);
    const lora = injectLora(model, { ...DEFAULT_LORA_CONFIG, loraDropout: 0 }, { seed: 3 });
    const fresh = model.forward(ids);
    assert.equal(maxAbsDifference(before, fresh), 0, 'B = 0 leaves the logits exactly unchanged');

    const loss = loraTrainingStep(lora, () => causalLmLoss(model.forward(ids, { training: true }), labels), new AdamW({ learningRate: 1e-2, weightDecay: 0 }));
    assert.ok(Number.isFinite(loss));
    const trained = model.forward(ids);
    assert.ok(maxAbsDifference(before, trained) > 1e-4, 'one step moves the logits');
    assert.equal(maxAbsDifference(baseQ, model.namedWeights().get('model.layers.0.self_attn.q_proj.weight')!), 0, 'base weight frozen');

    lora.merge();
    const merged = model.forward(ids);
    assert.ok(maxAbsDifference(trained, merged) < 1e-5, 'merged logits agree with the adapter');
    lora.unmerge();
    assert.ok(maxAbsDifference(baseQ, model.namedWeights().get('model.layers.0.self_attn.q_proj.weight')!) < 1e-6, 'unmerge restores W');
    tf.dispose([before, fresh, trained, merged]);
    lora.remove();
  } finally {
    tf.dispose([ids, labels, baseQ]);
    model.dispose();
  }
});

test('moduleSpectrum rank-1 adapter', async () => {
  await initBackend();
  // B has two equal columns and A two equal rows, so B·A has rank 1: all energy in σ_1.
  const b = matrix(6, 2, [1, 1, 2, 2, 0, 0, -1, -1, 3, 3, 1, 1]);
  const a = matrix(2, 5, [1, 0, 2, 0, 1, 1, 0, 2, 0, 1]);
  const spectrum = moduleSpectrum({ module: 'q_proj', a, b, scaling: 0.5 }, 9);
  // ‖0.5·B·A‖ = 0.5·‖2·u‖·‖v‖ with u = [1, 2, 0, -1, 3, 1] (norm sqrt 16 = 4) and v = [1, 0, 2, 0, 1] (norm sqrt 6).
  assert.ok(Math.abs(spectrum.norm - 4 * Math.sqrt(6)) < 1e-12, `norm ${spectrum.norm}`);
  assert.equal(spectrum.learned.length, 2);
  assert.equal(spectrum.randomFull.length, 5);
  assert.equal(spectrum.randomLowRank.length, 2);
  assert.ok(Math.abs(frobeniusNorm(spectrum.randomFull) - spectrum.norm) < 1e-9, 'random full-rank matrix has the same norm');
  assert.ok(Math.abs(frobeniusNorm(spectrum.randomLowRank) - spectrum.norm) < 1e-9, 'random rank-r matrix has the same norm');
  const summary = spectrumSummary(spectrum);
  assert.ok(Math.abs(summary.top1Learned - 1) < 1e-12);
  assert.ok(summary.top1RandomFull < 1);
  assert.equal(summary.shape, '6×5');
});

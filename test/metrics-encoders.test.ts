import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';

import { initBackend } from '../src/backend';
import { bertScore, computeIdf } from '../src/metrics/bertscore';
import { CausalLmScorer, describeEncoder, LlamaEncoder, loadEncoder } from '../src/metrics/encoders';
import { longDocFactScore } from '../src/metrics/longdocfactscore';
import { TransformersJsEncoder } from '../src/metrics/transformers-encoder';
import { llamaHiddenState } from '../src/model/hidden-states';
import { LlamaForCausalLM } from '../src/model/llama';
import { HfTokenizer } from '../src/tokenizer/hf-tokenizer';
import { sharedPath } from './helpers/shared';

const STORIES = sharedPath('models', 'stories260K', 'hf');
const SUMMARY =
  'Cells divide to make new cells . Before a cell divides , it copies its DNA . Errors in this copying can cause disease .';

let encoder: LlamaEncoder;

before(async () => {
  await initBackend();
  encoder = await LlamaEncoder.fromDir(STORIES);
});

after(() => encoder.dispose());

function near(actual: number, expected: number, tolerance: number, label: string): void {
  assert.ok(Math.abs(actual - expected) <= tolerance, `${label}: ${actual} vs ${expected} (tolerance ${tolerance})`);
}

test('hidden state last layer gives logits', async () => {
  // lm_head applied to the last hidden state (after the final norm) must reproduce forward's logits.
  const model = await LlamaForCausalLM.fromPretrained(sharedPath('fixtures', 'llama-tiny'));
  const cases = JSON.parse(fs.readFileSync(sharedPath('fixtures', 'llama-tiny', 'cases.json'), 'utf8')) as {
    sequences: { input_ids: number[] }[];
    expected: { base: { logits: number[][][] } };
  };
  const ids = cases.sequences[0].input_ids;
  const input = tf.tensor2d([ids], [1, ids.length], 'int32');
  const state = llamaHiddenState(model, input, model.config.numHiddenLayers);
  const logits = model.linearLayers().get('lm_head')!.apply(state, false);
  const actual = (await logits.array()) as number[][][];
  // The PyTorch reference logits are rounded to 6 significant digits, so they are compared at 1e-4·max(1, |v|).
  const expected = cases.expected.base.logits[0];
  let maxDifference = 0;
  for (let t = 0; t < expected.length; t++) {
    for (let v = 0; v < expected[t].length; v++) maxDifference = Math.max(maxDifference, Math.abs(actual[0][t][v] - expected[t][v]));
  }
  assert.ok(maxDifference <= 1e-4, `max |logit difference| ${maxDifference} against the PyTorch reference`);
  tf.dispose([input, state, logits]);
  model.dispose();
});

test('hidden state 0 is the embedding row', async () => {
  const model = await LlamaForCausalLM.fromPretrained(STORIES);
  const input = tf.tensor2d([[1, 42, 7]], [1, 3], 'int32');
  const state = llamaHiddenState(model, input, 0);
  const table = model.namedWeights().get('model.embed_tokens.weight')!;
  const expected = tf.gather(table, [1, 42, 7]);
  const difference = (await tf.max(tf.abs(tf.sub(state.squeeze([0]), expected))).data())[0];
  assert.equal(difference, 0);
  assert.throws(() => llamaHiddenState(model, input, model.config.numHiddenLayers + 1), /choose 0 \(embeddings\) to 5/);
  tf.dispose([input, state, expected]);
  model.dispose();
});

test('hidden state leaves no tensors', async () => {
  await encoder.embed(['warm up']);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) await encoder.embed([SUMMARY]);
  assert.equal(tf.memory().numTensors, before);
});

test('bertscore identical texts give one', async () => {
  // Greedy matching pairs each token with itself (cosine 1), so P = R = F1 = 1 up to float32 rounding.
  const [score] = await bertScore([SUMMARY], [SUMMARY], { embedder: encoder });
  near(score.precision, 1, 1e-6, 'P');
  near(score.recall, 1, 1e-6, 'R');
  near(score.f1, 1, 1e-6, 'F1');
  // With idf from two references, tokens found in both weigh ln(3/3) = 0 and the rest ln(3/2).
  const pair = [SUMMARY, 'The cat sat on the mat .'];
  const withIdf = await bertScore(pair, pair, { embedder: encoder, idf: true });
  near(withIdf[0].f1, 1, 1e-6, 'F1 with idf, row 0');
  near(withIdf[1].f1, 1, 1e-6, 'F1 with idf, row 1');
  // One reference makes every idf ln(2/2) = 0, and bert_score turns the 0/0 into a score of 0.
  const [single] = await bertScore([SUMMARY], [SUMMARY], { embedder: encoder, idf: true });
  assert.equal(single.f1, 0);
});

test('bertscore different texts below one', async () => {
  const [score] = await bertScore(['The cat sat on the mat .'], [SUMMARY], { embedder: encoder });
  assert.ok(score.f1 < 0.999, `F1 ${score.f1} of unrelated texts`);
  assert.ok(score.f1 > -1, `F1 ${score.f1} is a cosine mean`);
});

test('encoder idf weights follow formula', async () => {
  // idf(t) = ln((M + 1) / (df(t) + 1)) over the M = 2 references' token ids.
  const references = ['the cell', 'the gene'];
  const embeddings = await encoder.embed(references);
  const idf = computeIdf(embeddings.map((embedding) => embedding.tokens));
  const inBoth = embeddings[0].tokens.filter((token) => embeddings[1].tokens.includes(token));
  const onlyFirst = embeddings[0].tokens.filter((token) => !embeddings[1].tokens.includes(token));
  const tokenLists = JSON.stringify(embeddings.map((e) => e.tokens));
  assert.ok(inBoth.length > 0, `some tokens are shared: ${tokenLists}`);
  assert.ok(onlyFirst.length > 0, `some tokens are only in the first text: ${tokenLists}`);
  for (const token of inBoth) near(idf.weights.get(token)!, Math.log(3 / 3), 1e-12, `idf of shared token ${token}`);
  for (const token of onlyFirst) near(idf.weights.get(token)!, Math.log(3 / 2), 1e-12, `idf of token ${token}`);
  near(idf.unseenWeight, Math.log(3), 1e-12, 'unseen idf');
});

test('encoder drops bos and truncates', async () => {
  const [embedding] = await encoder.embed(['the cell']);
  const tokenizer = await HfTokenizer.fromDir(STORIES);
  const ids = tokenizer.encode('the cell', { addSpecialTokens: false });
  assert.deepEqual(embedding.tokens, ids.map(String));
  assert.equal(embedding.vectors.length, ids.length);
  assert.equal(embedding.vectors[0].length, 64);
  const [long] = await encoder.embed(['word '.repeat(2000)]);
  assert.equal(long.tokens.length, 511, 'max_position_embeddings 512 minus BOS');
  const [empty] = await encoder.embed(['']);
  assert.deepEqual(empty, { tokens: [], vectors: [] });
});

test('encoder info records folder and layer', async () => {
  assert.deepEqual(encoder.info, {
    kind: 'lora-lab',
    folder: path.resolve(STORIES),
    layer: 5,
    method: 'mean pooling for sentences',
    maxTokens: 512,
  });
  assert.equal(describeEncoder(encoder.info), 'lora-lab stories260K/hf, layer 5, mean pooling for sentences');
  const layer2 = await LlamaEncoder.fromDir(STORIES, { layer: 2 });
  assert.equal(layer2.info.layer, 2);
  const [a] = await layer2.encode(['the cell']);
  const [b] = await encoder.encode(['the cell']);
  assert.notDeepEqual(a, b, 'different layers give different vectors');
  layer2.dispose();
  await assert.rejects(LlamaEncoder.fromDir(STORIES, { layer: 6 }), /Invalid encoder layer 6 .* choose 0 \(embeddings\) to 5/);
});

test('sentence encoder mean pools tokens', async () => {
  const [tokens] = await encoder.embed(['the cell divides']);
  const [pooled] = await encoder.encode(['the cell divides']);
  for (let c = 0; c < pooled.length; c++) {
    const mean = tokens.vectors.reduce((sum, vector) => sum + vector[c], 0) / tokens.vectors.length;
    near(pooled[c], mean, 1e-9, `component ${c}`);
  }
});

test('causal scorer is mean log likelihood', async () => {
  // Reference: the same mean of log-softmax target probabilities, computed from forward's logits here.
  const scorer = await CausalLmScorer.fromDir(STORIES);
  const model = await LlamaForCausalLM.fromPretrained(STORIES);
  const tokenizer = await HfTokenizer.fromDir(STORIES);
  const source = tokenizer.encode('Once upon a time there was a cat.', { addSpecialTokens: false });
  const target = tokenizer.encode('The cat was happy.', { addSpecialTokens: false });
  const ids = [1, ...source, ...target];
  const logits = model.forward(tf.tensor2d([ids], [1, ids.length], 'int32'));
  const logProbs = (await tf.logSoftmax(logits, -1).array()) as number[][][];
  let sum = 0;
  for (let t = 1 + source.length; t < ids.length; t++) sum += logProbs[0][t - 1][ids[t]];
  const expected = sum / target.length;

  const [score] = await scorer.score(['Once upon a time there was a cat.'], ['The cat was happy.']);
  near(score, expected, 1e-5, 'mean log-likelihood');
  assert.ok(score < 0);
  await assert.rejects(scorer.score(['a'], []), /one source per target/);
  logits.dispose();
  model.dispose();
  scorer.dispose();
});

test('ldfacts with lora-lab model', async () => {
  // A summary copied from the source scores at least as high as an unrelated one: each copied
  // sentence finds its own window among the top 3.
  const scorer = await CausalLmScorer.fromDir(STORIES);
  const source = 'Tom had a red ball. He played with it in the park. The sun was warm. His dog ran after the ball.';
  const copied = await longDocFactScore(source, 'He played with it in the park.', { encoder, scorer });
  const unrelated = await longDocFactScore(source, 'Quantum chromodynamics describes quarks.', { encoder, scorer });
  assert.ok(Number.isFinite(copied), `copied score ${copied}`);
  assert.ok(Number.isFinite(unrelated), `unrelated score ${unrelated}`);
  assert.ok(copied > unrelated, `copied ${copied} vs unrelated ${unrelated}`);
  scorer.dispose();
});

test('load encoder rejects bad folders', async () => {
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'lora-lab-encoder-'));
  await assert.rejects(loadEncoder(path.join(empty, 'absent')), /neither a lora-lab model folder .* nor a Hugging Face ONNX encoder folder/);
  await assert.rejects(TransformersJsEncoder.fromDir(path.join(empty, 'absent')), /Encoder folder not found: .*absent/);
  await assert.rejects(LlamaEncoder.fromDir(empty), /is missing config\.json, tokenizer\.json, model\.safetensors/);
  fs.copyFileSync(sharedPath('models', 'tokenizers', 'all-MiniLM-L6-v2', 'config.json'), path.join(empty, 'config.json'));
  await assert.rejects(TransformersJsEncoder.fromDir(empty), /is missing tokenizer\.json, onnx\/model\.onnx or onnx\/model_quantized\.onnx or onnx\/model_fp16\.onnx/);
  fs.rmSync(empty, { recursive: true });
});

// --- A hand-written ONNX model: last_hidden_state = Gather(table, input_ids), an embedding lookup.
// It has no attention, so each output vector is a known row of `table`, which makes the
// transformers.js path checkable without pretrained weights.

function varint(value: number): number[] {
  const bytes: number[] = [];
  let rest = value;
  while (rest > 127) {
    bytes.push((rest % 128) | 128);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return bytes;
}

function field(number: number, payload: number[] | string | Buffer): number[] {
  const bytes = typeof payload === 'string' ? [...Buffer.from(payload, 'utf8')] : [...payload];
  return [...varint(number * 8 + 2), ...varint(bytes.length), ...bytes];
}

function intField(number: number, value: number): number[] {
  return [...varint(number * 8), ...varint(value)];
}

function valueInfo(name: string, elemType: number, dims: (number | string)[]): number[] {
  const shape = dims.flatMap((dim) => field(1, typeof dim === 'string' ? field(2, dim) : intField(1, dim)));
  return [...field(1, name), ...field(2, field(1, [...intField(1, elemType), ...field(2, shape)]))];
}

function embeddingLookupOnnx(table: Float32Array, vocab: number, width: number): Buffer {
  const FLOAT = 1;
  const INT64 = 7;
  const initializer = [...intField(1, vocab), ...intField(1, width), ...intField(2, FLOAT), ...field(8, 'table'), ...field(9, Buffer.from(table.buffer))];
  const node = [...field(1, 'table'), ...field(1, 'input_ids'), ...field(2, 'last_hidden_state'), ...field(4, 'Gather')];
  const graph = [
    ...field(1, node),
    ...field(2, 'lookup'),
    ...field(5, initializer),
    ...field(11, valueInfo('input_ids', INT64, ['batch', 'sequence'])),
    ...field(11, valueInfo('attention_mask', INT64, ['batch', 'sequence'])),
    ...field(12, valueInfo('last_hidden_state', FLOAT, ['batch', 'sequence', width])),
  ];
  return Buffer.from([...intField(1, 8), ...field(2, 'lora-lab-test'), ...field(7, graph), ...field(8, [...field(1, ''), ...intField(2, 13)])]);
}

test('transformers.js encoder on lookup model', async () => {
  const vocab = 30522;
  const width = 3;
  const table = new Float32Array(vocab * width);
  for (let id = 0; id < vocab; id++) table.set([Math.cos(id), Math.sin(id), 0.5], id * width);
  const row = (id: number) => Array.from(table.subarray(id * width, id * width + width));

  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'lora-lab-onnx-')), 'lookup-bert');
  fs.mkdirSync(path.join(dir, 'onnx'), { recursive: true });
  for (const file of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']) {
    fs.copyFileSync(sharedPath('models', 'tokenizers', 'all-MiniLM-L6-v2', file), path.join(dir, file));
  }
  fs.writeFileSync(path.join(dir, 'onnx', 'model.onnx'), embeddingLookupOnnx(table, vocab, width));

  const onnxEncoder = await loadEncoder(dir);
  assert.equal(onnxEncoder.info.kind, 'transformers.js');
  assert.equal(onnxEncoder.info.folder, dir);
  // bert-base-uncased WordPiece ids: [CLS] 101, "cells" 4442, "divide" 11443, [SEP] 102.
  const [embedding] = await onnxEncoder.embed(['Cells divide']);
  assert.deepEqual(embedding.tokens, ['4442', '11443']);
  for (const [i, id] of [4442, 11443].entries()) {
    embedding.vectors[i].forEach((value, c) => near(value, row(id)[c], 1e-7, `token ${id} component ${c}`));
  }
  // Mean pooling averages over every position of the attention mask, [CLS] and [SEP] included.
  const [pooled] = await onnxEncoder.encode(['Cells divide']);
  const ids = [101, 4442, 11443, 102];
  pooled.forEach((value, c) => near(value, ids.reduce((sum, id) => sum + row(id)[c], 0) / ids.length, 1e-6, `pooled ${c}`));
  const [same] = await bertScore(['Cells divide'], ['Cells divide'], { embedder: onnxEncoder });
  near(same.f1, 1, 1e-6, 'identical F1');
  await assert.rejects(loadEncoder(dir, { layer: 2 }), /--encoder-layer applies to lora-lab model folders only/);
  onnxEncoder.dispose();
  fs.rmSync(path.dirname(dir), { recursive: true });
});

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { loadCorpus } from '../src/data/elife';
import { makeSplits } from '../src/data/splits';
import { saveAdapter } from '../src/lora/adapter';
import { listAdapterTensors } from '../src/lora/adapter-tensors';
import { injectLora } from '../src/lora/inject';
import type { ModelConfig } from '../src/model/config';
import { LlamaForCausalLM } from '../src/model/llama';
import { parameterGroups } from '../src/model/parameter-groups';
import type { TokenizedExample } from '../src/pipeline/examples';
import { loraConfigFromPreset, pretrainingDocuments, selectTuningPairs, splitTuningExamples, trainLossSeries } from '../src/pipeline/experiment-data';
import { describeLabelMask } from '../src/pipeline/label-mask';
import { isCompleteRun, locateNotebookRun, readRunConfig } from '../src/pipeline/notebook-run';
import { loadPreset } from '../src/pipeline/preset';
import { sharedPath } from './helpers/shared';

// vocab 10, hidden 8, MLP 12, 2 layers, 2 query heads and 1 key/value head of size 4.
const TINY: ModelConfig = {
  architecture: 'LlamaForCausalLM',
  modelType: 'llama',
  vocabSize: 10,
  hiddenSize: 8,
  intermediateSize: 12,
  numHiddenLayers: 2,
  numAttentionHeads: 2,
  numKeyValueHeads: 1,
  headDim: 4,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
  ropeScaling: null,
  maxPositionEmbeddings: 32,
  tieWordEmbeddings: true,
  attentionBias: false,
  slidingWindow: null,
  bosTokenId: 1,
  eosTokenIds: [2],
  padTokenId: 0,
  initializerRange: 0.02,
};

test('parameterGroups counts by hand', () => {
  // Per layer: q 8·8 + k 4·8 + v 4·8 + o 8·8 = 192; MLP 3·12·8 = 288; two norms of 8. Final norm 8.
  assert.deepEqual(parameterGroups(TINY), [
    { group: 'embedding', tensors: 1, parameters: 80 },
    { group: 'norm', tensors: 5, parameters: 40 },
    { group: 'attention', tensors: 8, parameters: 384 },
    { group: 'mlp', tensors: 6, parameters: 576 },
  ]);
  const untied = parameterGroups({ ...TINY, tieWordEmbeddings: false });
  assert.deepEqual(untied.at(-1), { group: 'lm_head', tensors: 1, parameters: 80 });
});

test('parameterGroups matches allocated model', () => {
  const model = LlamaForCausalLM.randomInit(TINY, 1);
  const total = parameterGroups(TINY).reduce((sum, group) => sum + group.parameters, 0);
  assert.equal(total, model.parameterCount());
  model.dispose();
});

test('listAdapterTensors names and shapes', async () => {
  const model = LlamaForCausalLM.randomInit(TINY, 1);
  const lora = injectLora(model, { ...loraConfigFromPreset(loadPreset('quick')), r: 2, targetModules: ['q_proj', 'v_proj'] }, { seed: 3 });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lora-lab-adapter-'));
  await saveAdapter(dir, lora, null);
  const tensors = listAdapterTensors(dir);
  const byName = new Map(tensors.map((tensor) => [tensor.name, tensor.shape]));

  assert.equal(tensors.length, 8, '2 layers × 2 modules × (A, B)');
  assert.deepEqual(byName.get('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight'), [2, 8]);
  assert.deepEqual(byName.get('base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight'), [8, 2]);
  assert.deepEqual(byName.get('base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight'), [4, 2]);
  assert.ok(tensors.every((tensor) => tensor.dtype === 'F32'));
  model.dispose();
});

test('describeLabelMask counts and boundary', () => {
  const example: TokenizedExample = {
    id: 'x',
    inputIds: [1, 5, 6, 7, 8, 9, 2],
    labels: [-100, -100, -100, -100, 8, 9, 2],
    promptTokens: 4,
    targetTokens: 3,
    truncated: false,
  };
  const summary = describeLabelMask(example, (id) => (id === 2 ? '</s>' : `t${id}`), 2);
  assert.equal(summary.total, 7);
  assert.equal(summary.masked, 4);
  assert.equal(summary.scored, 3);
  assert.deepEqual(summary.boundary, [
    { position: 2, inputId: 6, token: 't6', label: -100 },
    { position: 3, inputId: 7, token: 't7', label: -100 },
    { position: 4, inputId: 8, token: 't8', label: 8 },
    { position: 5, inputId: 9, token: 't9', label: 9 },
  ]);
});

test('describeLabelMask rejects length mismatch', () => {
  const example: TokenizedExample = { id: 'bad', inputIds: [1, 2], labels: [-100], promptTokens: 1, targetTokens: 1, truncated: false };
  assert.throws(() => describeLabelMask(example, () => null), /Example bad: 2 input ids but 1 labels/);
});

test('pretrainingDocuments stops at character cap', () => {
  const preset = loadPreset('quick');
  const corpus = loadCorpus(sharedPath('data', 'elife'));
  const splits = makeSplits(corpus, { seed: preset.seed, size: preset.data.evalSize });
  const capped = { ...preset, data: { ...preset.data, maxPretrainChars: 20_000 } };
  const picked = pretrainingDocuments(corpus, splits.evalIds, capped);

  const lengths = picked.documents.map((text) => text.length);
  assert.equal(picked.characters, lengths.reduce((a, b) => a + b, 0));
  assert.ok(picked.characters >= 20_000, 'reaches the cap');
  assert.ok(picked.characters - lengths.at(-1)! < 20_000, 'the last document crosses the cap');
  assert.deepEqual(pretrainingDocuments(corpus, splits.evalIds, capped).documents, picked.documents, 'same seed, same documents');
  const evalTexts = new Set(splits.evalPairs.map((pair) => pair.abstract));
  assert.ok(picked.documents.every((text) => !evalTexts.has(text)));
});

test('selectTuningPairs caps with seed', () => {
  const pairs = Array.from({ length: 10 }, (_, i) => ({ id: `p${i}` })) as never[];
  const preset = loadPreset('quick');
  const capped = selectTuningPairs(pairs, { ...preset, data: { ...preset.data, maxTrainPairs: 3 } });
  assert.equal(capped.length, 3);
  assert.equal(new Set(capped).size, 3);
  assert.equal(selectTuningPairs(pairs, { ...preset, data: { ...preset.data, maxTrainPairs: null } }), pairs);
});

test('trainLossSeries names curves', () => {
  const series = trainLossSeries('LoRA', { trainLoss: [{ step: 0, loss: 2 }], evalLoss: [], tokensPerSecond: 1, trainSeconds: 1, tokensSeen: 1, resumedFromStep: 0 });
  assert.deepEqual(series, [{ name: 'LoRA train', steps: [0], losses: [2] }]);
});

test('locateNotebookRun prefers complete quickstart', async () => {
  const outputs = fs.mkdtempSync(path.join(os.tmpdir(), 'lora-lab-outputs-'));
  const makeRun = (name: string) => {
    for (const file of ['metrics.json', 'predictions.jsonl', 'scores.jsonl', 'base-model/config.json', 'adapter/adapter_model.safetensors']) {
      fs.mkdirSync(path.dirname(path.join(outputs, name, file)), { recursive: true });
      fs.writeFileSync(path.join(outputs, name, file), '');
    }
    fs.writeFileSync(path.join(outputs, name, 'run_config.json'), JSON.stringify({ preset: loadPreset('quick'), corpusDir: '/corpus', baseModelDir: null }));
  };
  const options = { outputsDir: outputs, onProgress: () => {}, log: () => {} };
  makeRun('notebook-quick');
  fs.mkdirSync(path.join(outputs, 'quickstart'));
  fs.writeFileSync(path.join(outputs, 'quickstart', 'metrics.json'), '{}');

  assert.equal(isCompleteRun(path.join(outputs, 'quickstart')), false);
  assert.deepEqual(await locateNotebookRun(options), { dir: path.join(outputs, 'notebook-quick'), origin: 'existing' });
  makeRun('quickstart');
  assert.deepEqual(await locateNotebookRun(options), { dir: path.join(outputs, 'quickstart'), origin: 'existing' });
});

test('readRunConfig defaults base model dir', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lora-lab-run-'));
  fs.writeFileSync(path.join(dir, 'run_config.json'), JSON.stringify({ preset: loadPreset('quick'), corpusDir: '/corpus', baseModelDir: null }));
  assert.equal(readRunConfig(dir).baseModelDir, path.join(dir, 'base-model'));
  assert.equal(readRunConfig(dir).preset.name, 'quick');
  fs.writeFileSync(path.join(dir, 'run_config.json'), JSON.stringify({ preset: loadPreset('quick'), corpusDir: '/corpus', baseModelDir: '/models/smollm' }));
  assert.equal(readRunConfig(dir).baseModelDir, '/models/smollm');
  assert.equal(isCompleteRun(dir), false, 'no metrics yet');
});

test('splitTuningExamples holds out last tenth', () => {
  const examples = Array.from({ length: 25 }, (_, i) => ({ id: `e${i}` })) as never as TokenizedExample[];
  const { train, heldOut } = splitTuningExamples(examples);
  assert.deepEqual(heldOut.map((example) => example.id), ['e23', 'e24']);
  assert.equal(train.length, 23);
  assert.equal(splitTuningExamples(examples.slice(0, 3)).heldOut.length, 1);
  assert.equal(splitTuningExamples(Array.from({ length: 200 }, (_, i) => ({ id: `e${i}` })) as never).heldOut.length, 8);
  assert.throws(() => splitTuningExamples(examples.slice(0, 1)), /at least 2 tokenised pairs/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../src/backend';
import { LlamaForCausalLM } from '../src/model/llama';
import { SafetensorsFile } from '../src/model/safetensors';
import { loadPreset } from '../src/pipeline/preset';
import { generateSummaries } from '../src/pipeline/stages';
import { loadCorpus } from '../src/data/elife';
import { makeSplits } from '../src/data/splits';
import { HfTokenizer } from '../src/tokenizer/hf-tokenizer';
import { sharedPath } from './helpers/shared';

const repoRoot = path.resolve(__dirname, '..');
const cli = path.join(repoRoot, 'bin', 'lora-lab.js');
const stories = sharedPath('models', 'stories260K', 'hf');

function runCli(args: string[]): { status: number | null; stderr: string } {
  if (!fs.existsSync(path.join(repoRoot, 'dist', 'src', 'cli', 'index.js'))) {
    throw new Error('dist/ is missing: run "npm run build" first (npm test does).');
  }
  const result = spawnSync(process.execPath, [cli, ...args], { cwd: repoRoot, encoding: 'utf8', env: { ...process.env, LORA_LAB_SHARED: sharedPath() } });
  return { status: result.status, stderr: result.stderr };
}

function readJsonl(file: string): Record<string, unknown>[] {
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line));
}

/** Copies the stories260K folder into a temporary folder, with config.json fields replaced by `overrides`. */
function storiesCopy(overrides: Record<string, unknown>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lora-lab-stories-'));
  for (const file of fs.readdirSync(stories)) fs.copyFileSync(path.join(stories, file), path.join(dir, file));
  const config = JSON.parse(fs.readFileSync(path.join(stories, 'config.json'), 'utf8'));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...config, ...overrides }));
  for (const file of fs.readdirSync(dir)) fs.chmodSync(path.join(dir, file), 0o644);
  return dir;
}

test('run --base tunes stories260K', { timeout: 600_000 }, async () => {
  // stories260K's tokenizer defines no pad token, so this run also covers the EOS fallback in collate and generate.
  const tokenizer = await HfTokenizer.fromDir(stories);
  assert.equal(tokenizer.padTokenId, null);

  const outDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'lora-lab-base-')), 'quick');
  const result = runCli(['run', '--preset', 'quick', '--base', stories, '--data', sharedPath('data', 'elife'), '--out', outDir, '--no-fetch']);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stderr, /Base model: .*stories260K.*260,032 parameters\); no pretraining/);
  assert.doesNotMatch(result.stderr, /Pretraining text:/);

  // The checkpoint is tuned as it is: no tokenizer training, no pretraining.
  assert.ok(!fs.existsSync(path.join(outDir, 'base-model')), 'no base-model/ folder');
  assert.ok(!fs.existsSync(path.join(outDir, 'tokenizer')), 'no tokenizer/ folder');
  assert.ok(!fs.existsSync(path.join(outDir, 'checkpoints', 'pretrain')), 'no pretraining checkpoints');

  // Adapter shapes follow stories260K's config.json: q/o project to heads × head_dim, k/v to kv heads × head_dim.
  const preset = loadPreset('quick');
  const config = JSON.parse(fs.readFileSync(path.join(stories, 'config.json'), 'utf8'));
  const r = preset.lora.r;
  const outFeatures: Record<string, number> = {
    q_proj: config.num_attention_heads * config.head_dim,
    k_proj: config.num_key_value_heads * config.head_dim,
    v_proj: config.num_key_value_heads * config.head_dim,
    o_proj: config.hidden_size,
  };
  const inFeatures: Record<string, number> = {
    q_proj: config.hidden_size,
    k_proj: config.hidden_size,
    v_proj: config.hidden_size,
    o_proj: config.num_attention_heads * config.head_dim,
  };
  const adapter = SafetensorsFile.open(path.join(outDir, 'adapter', 'adapter_model.safetensors'));
  const names = [...adapter.tensors.keys()];
  assert.equal(names.length, 2 * config.num_hidden_layers * preset.lora.targetModules.length);
  for (const name of names) {
    const match = /^base_model\.model\.model\.layers\.(\d+)\.self_attn\.([qkvo]_proj)\.lora_([AB])\.weight$/.exec(name);
    assert.ok(match, `unexpected adapter tensor ${name}`);
    assert.ok(Number(match[1]) < config.num_hidden_layers, name);
    const expected = match[3] === 'A' ? [r, inFeatures[match[2]]] : [outFeatures[match[2]], r];
    assert.deepEqual(adapter.tensors.get(name)!.shape, expected, name);
  }
  adapter.close();
  const adapterConfig = JSON.parse(fs.readFileSync(path.join(outDir, 'adapter', 'adapter_config.json'), 'utf8'));
  assert.equal(adapterConfig.base_model_name_or_path, stories);

  const evalIds = JSON.parse(fs.readFileSync(path.join(outDir, 'eval_ids.json'), 'utf8')).ids as string[];
  const predictions = readJsonl(path.join(outDir, 'predictions.jsonl'));
  for (const system of ['base', 'base + LoRA']) {
    const rows = predictions.filter((row) => row.system === system);
    assert.deepEqual(rows.map((row) => row.id).sort(), [...evalIds].sort(), `${system}: one prediction per evaluation article`);
    assert.ok(rows.some((row) => typeof row.prediction === 'string' && row.prediction.length > 0), `${system}: generated text`);
  }
  const runConfig = JSON.parse(fs.readFileSync(path.join(outDir, 'run_config.json'), 'utf8'));
  assert.equal(runConfig.baseModelDir, stories);
});

test('generateSummaries fits max_position_embeddings', async () => {
  await initBackend();
  const maxPositions = 256;
  const dir = storiesCopy({ max_position_embeddings: maxPositions });
  const model = await LlamaForCausalLM.fromPretrained(dir);
  const tokenizer = await HfTokenizer.fromDir(dir);
  const preset = loadPreset('quick');
  const maxNewTokens = 8;
  const splits = makeSplits(loadCorpus(sharedPath('data', 'elife')), { seed: preset.seed, size: 2 });

  // The whole sequence, prompt plus new tokens, is what the attention mask covers at each step.
  let widest = 0;
  const forward = model.forward.bind(model);
  model.forward = (inputIds, options) => {
    widest = Math.max(widest, options?.attentionMask?.shape[1] ?? inputIds.shape[1]);
    return forward(inputIds, options);
  };
  const promptTokens = splits.evalPairs.map((pair) => tokenizer.encode(pair.abstract).length);
  assert.ok(Math.min(...promptTokens) > maxPositions, 'the abstracts alone are longer than the window');

  const result = await generateSummaries({
    model,
    tokenizer,
    pairs: splits.evalPairs,
    system: 'base',
    preset: { ...preset, generation: { ...preset.generation, maxNewTokens, batchSize: 2 } },
    onProgress: () => {},
  });
  model.dispose();
  assert.equal(result.rows.length, splits.evalPairs.length);
  assert.ok(widest > 0, 'the model was called');
  assert.ok(widest <= maxPositions, `widest sequence ${widest} tokens, limit ${maxPositions}`);
});

test('run --base rejects a foreign tokenizer', { timeout: 120_000 }, () => {
  // llama2-32k has 32,000 ids; stories260K's embedding has 512 rows.
  const dir = storiesCopy({});
  fs.copyFileSync(sharedPath('models', 'tokenizers', 'llama2-32k', 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lora-lab-base-bad-'));
  const result = runCli(['run', '--preset', 'quick', '--base', dir, '--data', sharedPath('data', 'elife'), '--out', outDir, '--no-fetch']);
  assert.equal(result.status, 1);
  assert.match(result.stderr, /tokenizer\.json has ids up to 31999, but config\.json's vocab_size is 512/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SafetensorsFile } from '../src/model/safetensors';
import { loadPreset } from '../src/pipeline/preset';
import { configDifferences } from '../src/pipeline/run';
import { sharedPath } from './helpers/shared';

const repoRoot = path.resolve(__dirname, '..');
const cli = path.join(repoRoot, 'bin', 'lora-lab.js');

function runCli(args: string[]): { status: number | null; stderr: string; stdout: string } {
  if (!fs.existsSync(path.join(repoRoot, 'dist', 'src', 'cli', 'index.js'))) {
    throw new Error('dist/ is missing: run "npm run build" first (npm test does).');
  }
  const result = spawnSync(process.execPath, [cli, ...args], { cwd: repoRoot, encoding: 'utf8', env: { ...process.env, LORA_LAB_SHARED: sharedPath() } });
  return { status: result.status, stderr: result.stderr, stdout: result.stdout };
}

function readJsonl(file: string): Record<string, unknown>[] {
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line));
}

test('lora-lab run --preset quick on real eLife records', { timeout: 600_000 }, () => {
  const outDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'lora-lab-run-')), 'quick');
  const first = runCli(['run', '--preset', 'quick', '--data', sharedPath('data', 'elife'), '--out', outDir, '--no-fetch']);
  assert.equal(first.status, 0, first.stderr);
  assert.match(first.stderr, /TensorFlow\.js backend: \w+/);
  assert.match(first.stderr, /trainable params: [\d,]+ \|\| all params: [\d,]+ \|\| trainable%/);

  const preset = loadPreset('quick');
  const evalIds = JSON.parse(fs.readFileSync(path.join(outDir, 'eval_ids.json'), 'utf8')).ids as string[];
  assert.equal(evalIds.length, preset.data.evalSize);
  const valIds = new Set(readJsonl(sharedPath('data', 'elife', 'val.jsonl')).map((row) => row.id));
  assert.ok(evalIds.every((id) => valIds.has(id)), 'evaluation articles come from the validation split');

  const predictions = readJsonl(path.join(outDir, 'predictions.jsonl'));
  const systems = ['base', 'base + LoRA', 'abstract (extractive)'];
  for (const system of systems) {
    const rows = predictions.filter((row) => row.system === system);
    assert.deepEqual(rows.map((row) => row.id).sort(), [...evalIds].sort(), `${system}: one prediction per evaluation article`);
    assert.ok(rows.every((row) => typeof row.prediction === 'string' && typeof row.reference === 'string'), `${system}: text fields`);
  }

  const metrics = JSON.parse(fs.readFileSync(path.join(outDir, 'metrics.json'), 'utf8'));
  for (const system of systems) {
    for (const name of ['rouge1', 'rouge2', 'rougeL', 'rougeLsum', 'fkgl', 'dcrs', 'cli']) {
      assert.ok(Number.isFinite(metrics.metrics[system][name]), `${system} ${name} is a number`);
      const [low, high] = metrics.intervals[system][name];
      const mean = metrics.metrics[system][name];
      assert.ok(low <= mean + 1e-12, `${system} ${name}: interval low ${low} <= mean ${mean}`);
      assert.ok(mean <= high + 1e-12, `${system} ${name}: mean ${mean} <= interval high ${high}`);
    }
  }
  assert.ok(Number.isFinite(metrics.metrics['reference summaries'].fkgl), 'reference readability is reported');
  assert.equal(metrics.metrics['reference summaries'].rouge1, undefined, 'references are not scored against themselves');
  // The extractive baseline is the abstract, so its ROUGE against the lay summary is far from 0.
  assert.ok(metrics.metrics['abstract (extractive)'].rouge1 > 0.2);

  // The adapter follows PEFT's layout: tensor names with no adapter name, A [r, in], B [out, r].
  const adapterConfig = JSON.parse(fs.readFileSync(path.join(outDir, 'adapter', 'adapter_config.json'), 'utf8'));
  assert.equal(adapterConfig.peft_type, 'LORA');
  assert.equal(adapterConfig.r, preset.lora.r);
  const adapter = SafetensorsFile.open(path.join(outDir, 'adapter', 'adapter_model.safetensors'));
  const names = [...adapter.tensors.keys()];
  assert.equal(names.length, 2 * preset.model.numHiddenLayers * (preset.lora.targetModules as string[]).length);
  for (const name of names) {
    assert.match(name, /^base_model\.model\.model\.layers\.\d+\.self_attn\.[qkvo]_proj\.lora_[AB]\.weight$/);
    const shape = adapter.tensors.get(name)!.shape;
    if (name.includes('lora_A')) assert.deepEqual(shape, [preset.lora.r, preset.model.hiddenSize], name);
    else assert.equal(shape[1], preset.lora.r, name);
  }
  adapter.close();

  const report = fs.readFileSync(path.join(outDir, 'report.md'), 'utf8');
  assert.match(report, /\| system \| ROUGE-1/);
  assert.match(report, /\| base \+ LoRA \|/);
  for (const chart of ['metrics.html', 'loss.html', 'lengths.html']) {
    const html = fs.readFileSync(path.join(outDir, 'charts', chart), 'utf8');
    assert.doesNotMatch(html, /<script[^>]+src=["']https?:/, `${chart} loads nothing from the network`);
  }
  assert.ok(fs.existsSync(path.join(outDir, 'base-model', 'config.json')));
  assert.ok(fs.existsSync(path.join(outDir, 'base-model', 'tokenizer.json')));

  // A second run in the same folder resumes from the saved stages and reproduces the predictions.
  const second = runCli(['run', '--preset', 'quick', '--data', sharedPath('data', 'elife'), '--out', outDir, '--no-fetch']);
  assert.equal(second.status, 0, second.stderr);
  assert.match(second.stderr, /Base model: reusing/);
  assert.match(second.stderr, /LoRA: reusing the adapter/);
  assert.deepEqual(readJsonl(path.join(outDir, 'predictions.jsonl')), predictions);
  const rerunReport = fs.readFileSync(path.join(outDir, 'report.md'), 'utf8');
  assert.match(rerunReport, /charts\/loss\.html/, 'the resumed report keeps the loss curves');
  assert.match(rerunReport, /training throughput \(tokens\/s\) \| [1-9]/, 'the resumed report keeps the throughput');
});

test('lora-lab run --fresh keeps unrelated folders', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lora-lab-fresh-'));
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'not a run');
  const result = runCli(['run', '--preset', 'quick', '--out', dir, '--fresh', '--no-fetch']);
  assert.equal(result.status, 1);
  assert.match(result.stderr, /--fresh did not delete .*: it is not a lora-lab run folder/);
  assert.ok(fs.existsSync(path.join(dir, 'notes.txt')));
});

test('lora-lab run rejects an unknown preset', () => {
  const result = runCli(['run', '--preset', 'no-such-preset', '--no-fetch']);
  assert.equal(result.status, 1);
  assert.match(result.stderr, /Preset not found: .*no-such-preset\.json\. Available presets: .*quick/);
});

test('lora-lab run rejects an unknown LoRA target', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lora-lab-preset-'));
  const file = path.join(dir, 'typo.json');
  const preset = JSON.parse(fs.readFileSync(path.join(repoRoot, 'presets', 'quick.json'), 'utf8'));
  preset.lora.targetModules = ['q_prj'];
  fs.writeFileSync(file, JSON.stringify(preset));
  const result = runCli(['run', '--preset', file, '--no-fetch']);
  assert.equal(result.status, 1);
  assert.match(result.stderr, /field "lora\.targetModules" has \["q_prj"\], which match no projection/);
});

test('lora-lab run rejects an invalid preset field', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lora-lab-preset-'));
  const file = path.join(dir, 'bad.json');
  const preset = JSON.parse(fs.readFileSync(path.join(repoRoot, 'presets', 'quick.json'), 'utf8'));
  preset.lora.r = 0;
  fs.writeFileSync(file, JSON.stringify(preset));
  const result = runCli(['run', '--preset', file, '--no-fetch']);
  assert.equal(result.status, 1);
  assert.match(result.stderr, /invalid preset:\n\s+field "lora\.r"/);
});

test('configDifferences ignores key order', () => {
  assert.deepEqual(configDifferences({ a: 1, b: { c: 2, d: [1, 2] } }, { b: { d: [1, 2], c: 2 }, a: 1 }), []);
  assert.deepEqual(configDifferences({ a: 1, b: { c: 2 } }, { a: 1, b: { c: 3 }, e: true }), ['b.c', 'e']);
});

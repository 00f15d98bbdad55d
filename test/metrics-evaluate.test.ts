import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { Command } from 'commander';

import { registerEvaluateCommand } from '../src/cli/evaluate-command';
import { DEFAULT_EN_US_DICTIONARY } from '../src/metrics/hyphenation';
import { evaluateFile, METRIC_NAMES, parseEvaluationJsonl, scoreRow } from '../src/metrics/evaluate';

const skipReason = fs.existsSync(DEFAULT_EN_US_DICTIONARY) ? false : `${DEFAULT_EN_US_DICTIONARY} is missing (apt-get install hyphen-en-us)`;

test('scoreRow metric names and values', { skip: skipReason }, async () => {
  const metrics = await scoreRow({ prediction: 'The cat sat on the mat.', reference: 'The cat sat on the mat.' });
  assert.deepEqual(Object.keys(metrics).sort(), [...METRIC_NAMES].sort());
  for (const name of ['rouge1', 'rouge2', 'rougeL', 'rougeLsum', 'rouge1_p', 'rougeLsum_r'] as const) {
    assert.equal(metrics[name], 1, name);
  }
  // One sentence of 6 one-syllable easy words: FKGL = lr(0.39*6 + 11.8 - 15.59, 1) = -1.5 (see the readability test).
  assert.equal(metrics.fkgl, -1.5);
});

test('scoreRow biolaysumm precision orientation', { skip: skipReason }, async () => {
  // Prediction "the cat" against reference "the cat sat on the mat": 2 of 2 prediction unigrams
  // match (P = 1), 2 of 6 reference unigrams (R = 1/3), in both modes.
  const row = { prediction: 'the cat', reference: 'the cat sat on the mat' };
  for (const biolaysumm of [false, true]) {
    const metrics = await scoreRow(row, { biolaysumm });
    assert.equal(metrics.rouge1_p, 1, `biolaysumm=${biolaysumm}`);
    assert.ok(Math.abs(metrics.rouge1_r - 1 / 3) < 1e-12, `biolaysumm=${biolaysumm}`);
  }
});

test('parseEvaluationJsonl reports bad rows', () => {
  const text = [
    '{"id": "a", "prediction": "x", "reference": "y"}',
    '{"id": "b", "prediction": 3, "reference": "y"}',
    'not json',
    '',
    '{"prediction": "x"}',
    '{"id": 7, "prediction": "x", "reference": "y", "source": "article"}',
  ].join('\n');
  const { rows, badRows } = parseEvaluationJsonl(text, 'in.jsonl');
  assert.deepEqual(rows.map((row) => row.id), ['a', 7]);
  assert.deepEqual(
    badRows.map((bad) => `${bad.file}:${bad.line}:${bad.field}`),
    ['in.jsonl:2:prediction', 'in.jsonl:3:(row)', 'in.jsonl:5:id', 'in.jsonl:5:reference'],
  );
});

test('evaluateFile writes rows and summary', { skip: skipReason }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'metrics-evaluate-'));
  const input = path.join(dir, 'in.jsonl');
  fs.writeFileSync(
    input,
    [
      '{"id": "a", "prediction": "The cat sat on the mat.", "reference": "The cat sat on the mat."}',
      '{"id": "b", "prediction": "Dogs run.", "reference": "The cat sat on the mat."}',
      '{"id": "c", "reference": "missing prediction"}',
    ].join('\n'),
  );
  const out = path.join(dir, 'out.jsonl');
  const summaryFile = path.join(dir, 'summary.json');
  const { summary, badRows } = await evaluateFile(input, out, summaryFile, { bootstrap: { resamples: 200, seed: 1 } });

  assert.equal(summary.rows, 2);
  assert.equal(summary.badRows, 1);
  assert.deepEqual(badRows.map((bad) => [bad.line, bad.field]), [[3, 'prediction']]);
  const written = fs.readFileSync(out, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
  assert.deepEqual(written.map((row) => row.id), ['a', 'b']);
  assert.equal(written[0].metrics.rouge1, 1);
  assert.equal(written[1].metrics.rouge1, 0);
  // Mean of rouge1 over rows a (1) and b (0) is 0.5; every resample mean is 0, 0.5 or 1.
  const saved = JSON.parse(fs.readFileSync(summaryFile, 'utf8'));
  assert.equal(saved.metrics.rouge1.mean, 0.5);
  assert.ok(saved.metrics.rouge1.low >= 0);
  assert.ok(saved.metrics.rouge1.high <= 1);
  assert.equal(saved.badRowDetails[0].field, 'prediction');
  fs.rmSync(dir, { recursive: true });
});

test('evaluate command runs', { skip: skipReason }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'metrics-cli-'));
  const input = path.join(dir, 'in.jsonl');
  fs.writeFileSync(input, '{"id": 1, "prediction": "Cells grow.", "reference": "Cells grow fast."}\n');
  const out = path.join(dir, 'out.jsonl');
  const program = new Command().exitOverride();
  registerEvaluateCommand(program);
  const log = console.log;
  const lines: string[] = [];
  console.log = (...args: unknown[]) => lines.push(args.join(' '));
  try {
    await program.parseAsync(['node', 'lora-lab', 'evaluate', '--input', input, '--out', out, '--resamples', '50']);
  } finally {
    console.log = log;
  }
  assert.ok(fs.existsSync(out));
  assert.ok(lines.some((line) => line.startsWith('rouge1 ')), lines.join('\n'));
  fs.rmSync(dir, { recursive: true });
});

test('evaluateFile summarizes each system separately', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evaluate-systems-'));
  const input = path.join(dir, 'rows.jsonl');
  const rows = [
    { id: 'a', system: 'copy', prediction: 'the cat sat on the mat', reference: 'the cat sat on the mat' },
    { id: 'b', system: 'copy', prediction: 'a dog ran in the park', reference: 'a dog ran in the park' },
    { id: 'a', system: 'other', prediction: 'completely unrelated words here', reference: 'the cat sat on the mat' },
    { id: 'a', system: 'other', prediction: 'more unrelated words', reference: 'the cat sat on the mat' },
  ];
  fs.writeFileSync(input, rows.map((row) => JSON.stringify(row)).join('\n') + '\n');
  const { summary } = await evaluateFile(input, path.join(dir, 'out.jsonl'));
  assert.ok(summary.bySystem, 'rows with a system field get per-system summaries');
  // Identical prediction and reference give ROUGE-1 F1 = 1; disjoint words give 0.
  assert.equal(summary.bySystem.copy.metrics?.rouge1.mean, 1);
  assert.equal(summary.bySystem.other.metrics?.rouge1.mean, 0);
  assert.equal(summary.bySystem.copy.duplicateIds, 0);
  assert.equal(summary.bySystem.other.duplicateIds, 1);
});

test('evaluateFile counts empty predictions', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evaluate-empty-'));
  const input = path.join(dir, 'rows.jsonl');
  const rows = [
    { id: 'a', prediction: '  ', reference: 'the cat sat on the mat' },
    { id: 'b', prediction: 'the cat sat', reference: 'the cat sat on the mat' },
  ];
  fs.writeFileSync(input, rows.map((row) => JSON.stringify(row)).join('\n') + '\n');
  const { summary } = await evaluateFile(input, path.join(dir, 'out.jsonl'));
  assert.equal(summary.emptyPredictions, 1);
  assert.equal(summary.rows, 2);
});

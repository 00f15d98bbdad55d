import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { metricsMarkdownTable, writeReport } from '../src/report/report';

test('metricsMarkdownTable cells and legend', () => {
  const table = metricsMarkdownTable(
    { base: { rouge1: 0.41234, fkgl: 14.567 }, lora: { rouge1: 0.45678, fkgl: 12.3 } },
    { lora: { rouge1: [0.44, 0.47] } },
  );
  const lines = table.split('\n');

  assert.equal(lines[0], '| system | ROUGE-1 ↑ | FKGL ↓ |');
  assert.equal(lines[1], '|---|---:|---:|');
  // The best value of each column is bold: highest ROUGE-1, lowest FKGL.
  assert.equal(lines[2], '| base | 0.4123 | 14.57 |');
  assert.equal(lines[3], '| lora | **0.4568** [0.4400, 0.4700] | **12.30** |');
  assert.ok(table.includes('- **ROUGE-1** (`rouge1`, ↑ higher is better): unigram overlap F1'));
  assert.ok(table.includes('- **FKGL** (`fkgl`, ↓ lower is better): Flesch-Kincaid grade level'));
});

test('metricsMarkdownTable unknown and missing', () => {
  const table = metricsMarkdownTable({ 'a|b': { custom: 3 }, other: { custom: 5, ROUGE_L: 0.3 } });
  const lines = table.split('\n');

  assert.equal(lines[0], '| system | custom | ROUGE-L ↑ |');
  assert.equal(lines[2], '| a\\|b | 3.0000 | n/a |');
  assert.equal(lines[3], '| other | 5.0000 | **0.3000** |');
  assert.ok(table.includes('- **custom**: no description given'));
});

test('metricsMarkdownTable caller descriptions', () => {
  const table = metricsMarkdownTable(
    { a: { errors: 2 }, b: { errors: 1 } },
    undefined,
    { errors: { label: 'Errors', description: 'factual errors per summary', higherIsBetter: false } },
  );
  assert.equal(table.split('\n')[0], '| system | Errors ↓ |');
  assert.equal(table.split('\n')[3], '| b | **1.0000** |');
});

test('writeReport files and links', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lora-lab-report-'));
  const files = writeReport(dir, {
    config: { preset: 'quickstart', lora: { r: 8, lora_alpha: 16 } },
    metrics: { base: { rouge1: 0.4 }, lora: { rouge1: 0.45 } },
    intervals: { lora: { rouge1: [0.43, 0.48] } },
    intervalMethod: '95% bootstrap over articles',
    lossCurves: [{ name: 'train', steps: [1, 2], losses: [2, 1.5] }],
    lengthDistributions: [{ name: 'reference', values: [300, 350, 420] }],
    facts: { backend: 'wasm', durationSeconds: 12.345, trainTokensPerSecond: 850 },
    notes: ['Quick mode: 8 validation articles.'],
  });

  assert.equal(files.report, path.join(dir, 'report.md'));
  assert.deepEqual(fs.readdirSync(dir).sort(), ['charts', 'report.md']);
  assert.deepEqual(fs.readdirSync(path.join(dir, 'charts')).sort(), ['lengths.html', 'loss.html', 'metrics.html']);

  const metricsChart = fs.readFileSync(path.join(dir, 'charts', 'metrics.html'), 'utf8');
  assert.ok(metricsChart.includes('"title":{"text":"ROUGE-1 ↑"}'));

  const report = fs.readFileSync(files.report, 'utf8');
  assert.ok(report.includes('| lora | **0.4500** [0.4300, 0.4800] |'));
  assert.ok(report.includes('(95% bootstrap over articles)'));
  assert.ok(report.includes('- [Metrics by system](charts/metrics.html)'));
  assert.ok(report.includes('- [Loss curves](charts/loss.html)'));
  assert.ok(report.includes('| TensorFlow.js backend | wasm |'));
  assert.ok(report.includes('| duration of this invocation (s) | 12.35 |'));
  assert.ok(report.includes('| training throughput (tokens/s) | 850 |'));
  assert.ok(report.includes('- Quick mode: 8 validation articles.'));
  assert.ok(report.includes('"lora_alpha": 16'));
  fs.rmSync(dir, { recursive: true });
});

test('writeReport skips absent charts', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lora-lab-report-'));
  const files = writeReport(dir, { config: {}, metrics: { base: { rouge1: 0.4 } } });
  assert.deepEqual(files.charts, [path.join(dir, 'charts', 'metrics.html')]);
  assert.equal(fs.readFileSync(files.report, 'utf8').includes('loss.html'), false);
  fs.rmSync(dir, { recursive: true });
});

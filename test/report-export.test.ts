import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { BLOG_METRICS, exportBlogAssets, resultsCsv } from '../src/report/export';
import { readLossCurves, readRunMetrics, readScores, resultRows, selectMetrics, sideBySideExamples, summaryLengths } from '../src/report/run-files';

// Typed-in values in the layout runExperiment writes to metrics.json.
const METRICS_JSON = {
  articles: 3,
  interval: '95% percentile bootstrap over articles',
  metrics: {
    base: { rouge1: 0.2, rouge1_p: 0.1, rouge2: 0.05, fkgl: 14.5 },
    'base + LoRA': { rouge1: 0.3, rouge1_p: 0.2, rouge2: 0.07, fkgl: 12.25 },
    'reference summaries': { fkgl: 11 },
  },
  intervals: {
    base: { rouge1: [0.15, 0.25], rouge1_p: [0.05, 0.15], rouge2: [0.01, 0.09], fkgl: [13.5, 15.5] },
    'base + LoRA': { rouge1: [0.25, 0.35], rouge1_p: [0.1, 0.3], rouge2: [0.03, 0.11], fkgl: [11.25, 13.25] },
    'reference summaries': { fkgl: [10, 12] },
  },
  pairedLoraMinusBase: { rouge1: { meanDifference: 0.1, low: 0.05, high: 0.15, pValue: 0.012, n: 3 } },
};

const PREDICTIONS = [
  { id: 'a1', system: 'base', prediction: 'one two three', reference: 'r r r r', source: 'abstract a1' },
  { id: 'a2', system: 'base', prediction: 'one', reference: 'r r', source: 'abstract a2' },
  { id: 'a1', system: 'base + LoRA', prediction: 'one two three four five', reference: 'r r r r', source: 'abstract a1' },
  { id: 'a2', system: 'base + LoRA', prediction: '', reference: 'r r', source: 'abstract a2' },
];

function writeRun(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lora-lab-export-'));
  fs.writeFileSync(path.join(dir, 'metrics.json'), JSON.stringify(METRICS_JSON));
  fs.writeFileSync(path.join(dir, 'predictions.jsonl'), PREDICTIONS.map((row) => JSON.stringify(row)).join('\n') + '\n');
  fs.mkdirSync(path.join(dir, 'checkpoints', 'lora'), { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'checkpoints', 'lora', 'trainer_state.json'),
    JSON.stringify({ task: 'lora', step: 2, trainLoss: [{ step: 0, loss: 3 }, { step: 1, loss: 2.5 }], evalLoss: [{ step: 2, loss: 2.75 }], tokensSeen: 10 }),
  );
  return dir;
}

function parseCsv(text: string): string[][] {
  // The test values contain no quotes or commas, so a plain split is exact here.
  return text.trimEnd().split('\n').map((line) => line.split(','));
}

test('exportBlogAssets CSV cells', () => {
  const runDir = writeRun();
  const files = exportBlogAssets({ runDir, outDir: path.join(runDir, 'blog'), metrics: ['rouge1', 'fkgl'] });
  const rows = parseCsv(fs.readFileSync(files.csv, 'utf8'));

  assert.deepEqual(rows[0], ['system', 'rouge1', 'rouge1_low', 'rouge1_high', 'fkgl', 'fkgl_low', 'fkgl_high']);
  assert.deepEqual(rows[1], ['base', '0.2', '0.15', '0.25', '14.5', '13.5', '15.5']);
  assert.deepEqual(rows[2], ['base + LoRA', '0.3', '0.25', '0.35', '12.25', '11.25', '13.25']);
  assert.deepEqual(rows[3], ['reference summaries', '', '', '', '11', '10', '12']);
  assert.equal(rows.length, 4);
});

test('exportBlogAssets markdown cells', () => {
  const runDir = writeRun();
  const files = exportBlogAssets({ runDir, outDir: path.join(runDir, 'blog'), metrics: ['rouge1', 'fkgl'] });
  const markdown = fs.readFileSync(files.markdown, 'utf8');
  const lines = markdown.split('\n');

  assert.equal(lines[0], '| system | ROUGE-1 ↑ | FKGL ↓ |');
  assert.equal(lines[2], '| base | 0.2000 [0.1500, 0.2500] | 14.50 [13.50, 15.50] |');
  assert.equal(lines[3], '| base + LoRA | **0.3000** [0.2500, 0.3500] | 12.25 [11.25, 13.25] |');
  assert.equal(lines[4], '| reference summaries | n/a | **11.00** [10.00, 12.00] |');
  assert.ok(markdown.includes('95% percentile bootstrap over articles; 3 held-out eLife articles.'));
  assert.ok(markdown.includes('ROUGE-1 +0.1000 [0.0500, 0.1500], p=0.012'));
  assert.equal(markdown.includes('rouge1_p'), false, 'unselected metrics stay out');
});

test('exportBlogAssets chart files', () => {
  const runDir = writeRun();
  const outDir = path.join(runDir, 'blog');
  const files = exportBlogAssets({ runDir, outDir });

  assert.deepEqual(files.charts.map((file) => path.relative(outDir, file)).sort(), ['charts/lengths.html', 'charts/loss.html', 'charts/metrics.html']);
  for (const file of files.charts) assert.ok(fs.readFileSync(file, 'utf8').includes('Plotly.newPlot'), `${file} draws a plot`);
  assert.equal(parseCsv(fs.readFileSync(files.csv, 'utf8'))[0].length, 1 + 3 * BLOG_METRICS.length);
});

test('exportBlogAssets without metrics rejects', () => {
  const runDir = writeRun();
  assert.throws(() => exportBlogAssets({ runDir, outDir: path.join(runDir, 'blog'), metrics: ['bertscore'] }), /none of the metrics \["bertscore"\]/);
});

test('resultsCsv quotes commas', () => {
  const csv = resultsCsv({ 'a, "b"': { rouge1: 0.5 } }, {}, ['rouge1']);
  assert.equal(csv.split('\n')[1], '"a, ""b""",0.5,,');
});

test('readRunMetrics names bad field', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lora-lab-export-'));
  const file = path.join(dir, 'metrics.json');
  fs.writeFileSync(file, JSON.stringify({ ...METRICS_JSON, intervals: { base: { rouge1: [0.1] } } }));
  assert.throws(() => readRunMetrics(file), /field "intervals\.base\.rouge1/);
});

test('selectMetrics keeps order and drops empty systems', () => {
  const { metrics, intervals } = selectMetrics(METRICS_JSON.metrics, METRICS_JSON.intervals as never, ['rouge2', 'rouge1']);
  assert.deepEqual(Object.keys(metrics), ['base', 'base + LoRA']);
  assert.deepEqual(Object.keys(metrics.base), ['rouge2', 'rouge1']);
  assert.deepEqual(intervals['base + LoRA'].rouge2, [0.03, 0.11]);
});

test('resultRows long form', () => {
  assert.deepEqual(resultRows(METRICS_JSON.metrics, METRICS_JSON.intervals as never, ['fkgl', 'rouge2']), [
    { system: 'base', metric: 'fkgl', value: 14.5, low: 13.5, high: 15.5 },
    { system: 'base', metric: 'rouge2', value: 0.05, low: 0.01, high: 0.09 },
    { system: 'base + LoRA', metric: 'fkgl', value: 12.25, low: 11.25, high: 13.25 },
    { system: 'base + LoRA', metric: 'rouge2', value: 0.07, low: 0.03, high: 0.11 },
    { system: 'reference summaries', metric: 'fkgl', value: 11, low: 10, high: 12 },
  ]);
  assert.deepEqual(resultRows({ s: { rouge1: 0.5 } }, {}, ['rouge1']), [{ system: 's', metric: 'rouge1', value: 0.5, low: null, high: null }]);
  assert.deepEqual(resultRows({ s: { rouge1: 0.123456 } }, { s: { rouge1: [0.10004, 0.15] } }, ['rouge1'], 3), [{ system: 's', metric: 'rouge1', value: 0.123, low: 0.1, high: 0.15 }]);
});

test('sideBySideExamples detokenises', () => {
  const rows = sideBySideExamples([{ id: 'a', system: 's', prediction: 'Cells ( here ) divide .', reference: 'It works , mostly .' }], ['s'], { count: 1, maxWords: 10 });
  assert.deepEqual(rows[0], { id: 'a', summaries: { s: 'Cells (here) divide.' }, reference: 'It works, mostly.' });
});

test('summaryLengths counts words per system', () => {
  const series = summaryLengths(PREDICTIONS, ['base', 'base + LoRA'], 'reference');
  assert.deepEqual(series, [
    { name: 'base', values: [3, 1] },
    { name: 'base + LoRA', values: [5, 0] },
    { name: 'reference', values: [4, 2] },
  ]);
});

test('sideBySideExamples pairs systems by id', () => {
  const rows = sideBySideExamples(PREDICTIONS, ['base', 'base + LoRA', 'missing system'], { count: 1, maxWords: 2 });
  assert.deepEqual(rows, [{ id: 'a1', summaries: { base: 'one two …', 'base + LoRA': 'one two …', 'missing system': '(missing)' }, reference: 'r r …' }]);
});

test('readScores keeps numeric fields', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lora-lab-export-'));
  const file = path.join(dir, 'scores.jsonl');
  fs.writeFileSync(file, '{"id":"a1","system":"base","rouge1":0.25,"note":"x"}\n\n{"id":"a2","system":"base","rouge1":0}\n');
  assert.deepEqual(readScores(file), [
    { id: 'a1', system: 'base', scores: { rouge1: 0.25 } },
    { id: 'a2', system: 'base', scores: { rouge1: 0 } },
  ]);
});

test('readLossCurves reads checkpoint state', () => {
  const runDir = writeRun();
  assert.deepEqual(readLossCurves(runDir), [
    { name: 'LoRA train', steps: [0, 1], losses: [3, 2.5] },
    { name: 'LoRA held-out', steps: [2], losses: [2.75] },
  ]);
});

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import {
  histogramFigure,
  lossCurveFigure,
  metricComparisonFigure,
  writeFileAtomic,
  writePlotlyHtml,
} from '../src/report/plotly';

const plotlyFile = path.join(__dirname, '..', 'node_modules', 'plotly.js-dist-min', 'plotly.min.js');

function temporaryDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'lora-lab-report-'));
}

/** Parses the data argument of the Plotly.newPlot call in a written chart. */
function plottedData(html: string): Record<string, unknown>[] {
  const match = /Plotly\.newPlot\("plot", (\[.*?\]), \{/.exec(html);
  assert.ok(match, 'chart HTML has no Plotly.newPlot("plot", ...) call');
  return JSON.parse(match[1]) as Record<string, unknown>[];
}

test('writePlotlyHtml inlines plotly.js', () => {
  const dir = temporaryDir();
  const file = path.join(dir, 'loss.html');
  writePlotlyHtml(file, lossCurveFigure([{ name: 'train', steps: [1, 2, 3], losses: [2.5, 2.1, 1.9] }]), { title: 'Loss' });

  const html = fs.readFileSync(file, 'utf8');
  const library = fs.readFileSync(plotlyFile, 'utf8');
  assert.ok(html.includes(library), 'the whole plotly.min.js is inline');
  assert.equal(/<script[^>]*\bsrc\s*=/i.test(html), false, 'no <script src=...> element');
  assert.ok(html.includes('<title>Loss</title>'));
  fs.rmSync(dir, { recursive: true });
});

test('writePlotlyHtml leaves no temporary file', () => {
  const dir = temporaryDir();
  writePlotlyHtml(path.join(dir, 'a.html'), histogramFigure([{ name: 'lengths', values: [120, 200, 340] }]));
  assert.deepEqual(fs.readdirSync(dir), ['a.html']);
  fs.rmSync(dir, { recursive: true });
});

test('writeFileAtomic cleans up on failure', () => {
  const dir = temporaryDir();
  // A directory in the way makes the final rename fail after the temporary file was written.
  fs.mkdirSync(path.join(dir, 'target'));
  fs.writeFileSync(path.join(dir, 'target', 'keep'), '');
  assert.throws(() => writeFileAtomic(path.join(dir, 'target'), 'contents'));
  assert.deepEqual(fs.readdirSync(dir), ['target']);
  fs.rmSync(dir, { recursive: true });
});

test('chart data escapes script end tags', () => {
  const dir = temporaryDir();
  const file = path.join(dir, 'metrics.html');
  const hostile = '</script><script>alert(1)</script>';
  writePlotlyHtml(file, metricComparisonFigure({ [hostile]: { rouge1: 0.4 } }));

  const html = fs.readFileSync(file, 'utf8');
  assert.equal(html.includes(hostile), false);
  assert.equal(plottedData(html)[0].name, hostile);
  fs.rmSync(dir, { recursive: true });
});

test('lossCurveFigure keeps steps and losses', () => {
  const figure = lossCurveFigure([
    { name: 'train', steps: [10, 20], losses: [3.25, 2.5] },
    { name: 'validation', steps: [20], losses: [2.75] },
  ]);
  assert.equal(figure.data.length, 2);
  assert.deepEqual((figure.data[0] as { x: number[] }).x, [10, 20]);
  assert.deepEqual((figure.data[0] as { y: number[] }).y, [3.25, 2.5]);
  assert.equal((figure.data[1] as { mode: string }).mode, 'markers');
});

test('lossCurveFigure rejects uneven series', () => {
  assert.throws(() => lossCurveFigure([{ name: 'train', steps: [1, 2], losses: [1] }]), /"train" has 2 steps but 1 losses/);
});

test('metricComparisonFigure error bars', () => {
  const figure = metricComparisonFigure(
    { base: { rouge1: 0.4, fkgl: 14.5 }, lora: { rouge1: 0.45, fkgl: 12 } },
    { lora: { rouge1: [0.43, 0.48] } },
  );
  // One bar per system and metric, metric panels on their own axes.
  assert.equal(figure.data.length, 4);
  const traces = figure.data as {
    name: string;
    xaxis: string;
    y: number[];
    showlegend: boolean;
    error_y?: { array: number[]; arrayminus: number[] };
  }[];
  assert.deepEqual(
    traces.map((trace) => [trace.name, trace.xaxis]),
    [
      ['base', 'x'],
      ['lora', 'x'],
      ['base', 'x2'],
      ['lora', 'x2'],
    ],
  );
  assert.deepEqual(
    traces.map((trace) => trace.showlegend),
    [true, true, false, false],
  );

  const loraRouge = traces[1];
  assert.ok(loraRouge.error_y);
  assert.ok(Math.abs(loraRouge.error_y.array[0] - 0.03) < 1e-12, 'upper bar = 0.48 - 0.45');
  assert.ok(Math.abs(loraRouge.error_y.arrayminus[0] - 0.02) < 1e-12, 'lower bar = 0.45 - 0.43');
  assert.equal(traces[0].error_y, undefined);

  const layout = figure.layout as Record<string, { title?: { text: string } }>;
  assert.equal(layout.xaxis.title?.text, 'rouge1');
  assert.equal(layout.xaxis2.title?.text, 'fkgl');
});

test('metricComparisonFigure rejects empty input', () => {
  assert.throws(() => metricComparisonFigure({}), /at least one system/);
});

test('metricComparisonFigure lists every system once in the legend', () => {
  // "reference" has no ROUGE value, so its first bar is in the second panel.
  const figure = metricComparisonFigure({ base: { rouge1: 0.2, fkgl: 9 }, reference: { fkgl: 11 } });
  const legendEntries = figure.data.filter((trace) => (trace as { showlegend?: boolean }).showlegend).map((trace) => (trace as { name?: string }).name);
  assert.deepEqual(legendEntries, ['base', 'reference']);
});

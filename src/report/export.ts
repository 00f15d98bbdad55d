import * as fs from 'node:fs';
import * as path from 'node:path';
import { SYSTEMS } from '../pipeline/run';
import { readPredictions } from '../pipeline/stages';
import { type IntervalTable, type MetricTable, histogramFigure, lossCurveFigure, metricComparisonFigure, writeFileAtomic, writePlotlyHtml } from './plotly';
import { describeMetric, metricAxisLabels, metricsMarkdownTable } from './report';
import { readLossCurves, readRunMetrics, type RunMetrics, selectMetrics, summaryLengths } from './run-files';

/** Metrics of the blog table, as in the run report; the _p/_r parts and FRE stay in metrics.json. */
export const BLOG_METRICS = ['rouge1', 'rouge2', 'rougeL', 'rougeLsum', 'fkgl', 'dcrs', 'cli'] as const;

/** Quotes a CSV field when it contains a comma, quote or line break (RFC 4180). */
function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/**
 * Renders the results as CSV: one row per system, and per metric three columns (value, interval
 * low, interval high) at full precision. A cell is empty where the system has no value.
 */
export function resultsCsv(metrics: MetricTable, intervals: IntervalTable, metricNames: readonly string[]): string {
  const header = ['system', ...metricNames.flatMap((name) => [name, `${name}_low`, `${name}_high`])];
  const lines = [header.map(csvField).join(',')];
  for (const [system, values] of Object.entries(metrics)) {
    const cells = [system];
    for (const name of metricNames) {
      const value = values[name];
      const interval = intervals[system]?.[name];
      cells.push(value === undefined ? '' : String(value), interval ? String(interval[0]) : '', interval ? String(interval[1]) : '');
    }
    lines.push(cells.map(csvField).join(','));
  }
  return lines.join('\n') + '\n';
}

/**
 * Renders the results as markdown for a post: the table with intervals and its legend, the interval
 * method and article count, and the paired LoRA minus base differences when metrics.json has them.
 */
export function resultsMarkdown(run: RunMetrics, metricNames: readonly string[]): string {
  const { metrics, intervals } = selectMetrics(run.metrics, run.intervals, metricNames);
  const parts = [metricsMarkdownTable(metrics, intervals)];
  parts.push(`Values in brackets: ${run.interval}; ${run.articles} held-out eLife articles.\n`);
  const paired = run.pairedLoraMinusBase;
  if (paired) {
    const differences = metricNames
      .filter((name) => paired[name] !== undefined)
      .map((name) => {
        const entry = paired[name];
        const label = describeMetric(name)?.label ?? name;
        const sign = entry.meanDifference >= 0 ? '+' : '';
        return `${label} ${sign}${entry.meanDifference.toFixed(4)} [${entry.low.toFixed(4)}, ${entry.high.toFixed(4)}], p=${entry.pValue.toFixed(3)}`;
      });
    if (differences.length > 0) parts.push(`Base + LoRA minus base (paired bootstrap over the same articles): ${differences.join('; ')}.\n`);
  }
  return parts.join('\n');
}

export interface BlogAssetFiles {
  markdown: string;
  csv: string;
  /** Standalone chart pages (plotly.js inline) that exist for this run. */
  charts: string[];
}

/**
 * Writes the assets of a blog-style write-up of one run into outDir: results.md, results.csv and
 * charts/metrics.html, plus charts/lengths.html when the run has predictions.jsonl and
 * charts/loss.html when it has training checkpoints. Every file is written atomically.
 */
export function exportBlogAssets(options: { runDir: string; outDir: string; metrics?: readonly string[] }): BlogAssetFiles {
  const runDir = path.resolve(options.runDir);
  const outDir = path.resolve(options.outDir);
  const metricNames = options.metrics ?? BLOG_METRICS;
  const run = readRunMetrics(path.join(runDir, 'metrics.json'));
  const { metrics, intervals } = selectMetrics(run.metrics, run.intervals, metricNames);
  if (Object.keys(metrics).length === 0) {
    throw new Error(`${path.join(runDir, 'metrics.json')} has none of the metrics ${JSON.stringify(metricNames)}; pass names that it contains.`);
  }

  fs.mkdirSync(outDir, { recursive: true });
  const files: BlogAssetFiles = { markdown: path.join(outDir, 'results.md'), csv: path.join(outDir, 'results.csv'), charts: [] };
  writeFileAtomic(files.markdown, resultsMarkdown(run, metricNames));
  writeFileAtomic(files.csv, resultsCsv(metrics, intervals, metricNames));

  const metricLabels = metricAxisLabels(metricNames);
  const metricsChart = path.join(outDir, 'charts', 'metrics.html');
  writePlotlyHtml(metricsChart, metricComparisonFigure(metrics, intervals, { title: 'Metrics by system', metricLabels }), { title: 'Metrics by system' });
  files.charts.push(metricsChart);

  const predictions = readPredictions(path.join(runDir, 'predictions.jsonl'));
  if (predictions.length > 0) {
    const lengthsChart = path.join(outDir, 'charts', 'lengths.html');
    const series = summaryLengths(predictions, [SYSTEMS.base, SYSTEMS.lora], SYSTEMS.reference);
    writePlotlyHtml(lengthsChart, histogramFigure(series, { title: 'Summary lengths', xTitle: 'words per summary' }), { title: 'Summary lengths' });
    files.charts.push(lengthsChart);
  }

  const losses = readLossCurves(runDir);
  if (losses.length > 0) {
    const lossChart = path.join(outDir, 'charts', 'loss.html');
    writePlotlyHtml(lossChart, lossCurveFigure(losses, 'Loss curves'), { title: 'Loss curves' });
    files.charts.push(lossChart);
  }
  return files;
}

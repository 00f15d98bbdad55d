import * as path from 'node:path';
import {
  type HistogramSeries,
  type IntervalTable,
  type LossSeries,
  type MetricTable,
  histogramFigure,
  lossCurveFigure,
  metricColumns,
  metricComparisonFigure,
  writeFileAtomic,
  writePlotlyHtml,
} from './plotly';

/** Description and better direction of a metric, for the legend under the results table. */
export interface MetricInfo {
  /** Column header, e.g. "ROUGE-L". */
  label: string;
  description: string;
  higherIsBetter: boolean;
}

/**
 * Facts about the run, shown as a two-column table. The named fields get readable labels and units;
 * other keys are shown as they are.
 */
export interface RunFacts {
  backend?: string;
  startedAt?: string;
  finishedAt?: string;
  durationSeconds?: number;
  trainTokensPerSecond?: number;
  generationTokensPerSecond?: number;
  [key: string]: string | number | boolean | undefined;
}

export interface ReportInput {
  title?: string;
  /** The resolved run configuration, written as JSON so the run can be repeated. */
  config: unknown;
  metrics: MetricTable;
  /** Confidence intervals, e.g. 95% bootstrap, in the same layout as metrics. */
  intervals?: IntervalTable;
  /** Method behind the intervals, e.g. "95% bootstrap over 1000 resamples of articles". */
  intervalMethod?: string;
  /** Descriptions for metrics that KNOWN_METRICS lacks, or overrides for those it has. */
  metricInfo?: Record<string, MetricInfo>;
  lossCurves?: LossSeries[];
  /** Length distributions, e.g. words per summary for references and each system. */
  lengthDistributions?: HistogramSeries[];
  /** Unit of the length distributions, "words" unless given. */
  lengthUnit?: string;
  facts?: RunFacts;
  /** Rows shown for reference only, which never get the bold "best" mark. */
  unrankedSystems?: string[];
  /** Caveats a reader needs to judge the numbers, e.g. how many articles were scored. */
  notes?: string[];
}

export interface ReportFiles {
  report: string;
  charts: string[];
}

/**
 * Descriptions of the metrics used for lay summarisation (the BioLaySumm shared task set),
 * looked up by name with case, hyphens and underscores ignored.
 */
export const KNOWN_METRICS: Record<string, MetricInfo> = {
  rouge1: { label: 'ROUGE-1', description: 'unigram overlap F1 with the reference lay summary', higherIsBetter: true },
  rouge2: { label: 'ROUGE-2', description: 'bigram overlap F1 with the reference lay summary', higherIsBetter: true },
  rougel: { label: 'ROUGE-L', description: 'longest common subsequence F1 with the reference lay summary', higherIsBetter: true },
  rougelsum: {
    label: 'ROUGE-Lsum',
    description: 'ROUGE-L over newline-separated sentences, combined by union LCS (rouge_score); equal to ROUGE-L for text without newlines',
    higherIsBetter: true,
  },
  bertscore: {
    label: 'BERTScore',
    description: 'F1 of token embedding similarity with the reference lay summary',
    higherIsBetter: true,
  },
  fkgl: {
    label: 'FKGL',
    description: 'Flesch-Kincaid grade level, the US school grade needed to read the text',
    higherIsBetter: false,
  },
  dcrs: {
    label: 'DCRS',
    description: 'Dale-Chall readability score from the share of words outside a list of familiar words',
    higherIsBetter: false,
  },
  cli: {
    label: 'CLI',
    description: 'Coleman-Liau index, a grade level from letters and sentences per 100 words',
    higherIsBetter: false,
  },
  lens: { label: 'LENS', description: 'learned score of simplification quality', higherIsBetter: true },
  summac: {
    label: 'SummaC',
    description: 'factual consistency with the article, from sentence-level entailment',
    higherIsBetter: true,
  },
  alignscore: {
    label: 'AlignScore',
    description: 'factual consistency with the article, from a trained alignment model',
    higherIsBetter: true,
  },
};

function metricKey(name: string): string {
  return name.toLowerCase().replace(/[-_\s]/g, '');
}

/** Looks up a metric's description: the caller's metricInfo first, then KNOWN_METRICS. */
/**
 * Returns short panel titles for the metrics chart, e.g. "ROUGE-1 ↑" and "FKGL ↓". The arrow gives
 * the better direction; longer titles overlap when seven panels share one row.
 */
export function metricAxisLabels(names: readonly string[], overrides: Record<string, MetricInfo> = {}): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const name of names) {
    const info = describeMetric(name, overrides);
    if (info) labels[name] = `${info.label} ${info.higherIsBetter ? '↑' : '↓'}`;
  }
  return labels;
}

export function describeMetric(name: string, overrides: Record<string, MetricInfo> = {}): MetricInfo | undefined {
  return overrides[name] ?? KNOWN_METRICS[metricKey(name)];
}

/**
 * Chooses decimals for one column so that values of the same metric line up:
 * 4 for scores below 10 (ROUGE, BERTScore), 2 for grade levels, 1 from 100 up.
 */
function columnDecimals(values: number[]): number {
  const largest = Math.max(0, ...values.filter(Number.isFinite).map(Math.abs));
  if (largest >= 100) return 1;
  if (largest >= 10) return 2;
  return 4;
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/**
 * Renders the results as a markdown table with one row per system and one column per metric.
 * Each header has a direction arrow, each value its interval where given, and the best value of a
 * column is bold when the direction is known. A legend of what each metric means follows the table.
 */
export function metricsMarkdownTable(
  metrics: MetricTable,
  intervals?: IntervalTable,
  overrides: Record<string, MetricInfo> = {},
  /** Rows shown for reference (e.g. the reference summaries) that never get the bold "best" mark. */
  unranked: string[] = [],
): string {
  const systems = Object.keys(metrics);
  const columns = metricColumns(metrics);
  if (systems.length === 0 || columns.length === 0) return '_No metric values were given._\n';

  const headers = columns.map((name) => {
    const info = describeMetric(name, overrides);
    if (!info) return escapeCell(name);
    return `${escapeCell(info.label)} ${info.higherIsBetter ? '↑' : '↓'}`;
  });
  const lines = [`| system | ${headers.join(' | ')} |`, `|---|${columns.map(() => '---:').join('|')}|`];

  const cells: string[][] = systems.map(() => []);
  for (const name of columns) {
    const values = systems.map((system) => metrics[system][name]);
    const rankedValues = systems.map((system) => (unranked.includes(system) ? undefined : metrics[system][name]));
    const decimals = columnDecimals(values.filter((value): value is number => value !== undefined));
    const info = describeMetric(name, overrides);
    const best = info && systems.length > 1 ? bestValue(rankedValues, info.higherIsBetter) : undefined;

    for (const [row, system] of systems.entries()) {
      const value = metrics[system][name];
      if (value === undefined || !Number.isFinite(value)) {
        cells[row].push(value === undefined ? 'n/a' : String(value));
        continue;
      }
      let text = value.toFixed(decimals);
      if (best !== undefined && value === best && !unranked.includes(system)) text = `**${text}**`;
      const interval = intervals?.[system]?.[name];
      if (interval) text += ` [${interval[0].toFixed(decimals)}, ${interval[1].toFixed(decimals)}]`;
      cells[row].push(text);
    }
  }
  for (const [row, system] of systems.entries()) {
    lines.push(`| ${escapeCell(system)} | ${cells[row].join(' | ')} |`);
  }

  lines.push('');
  for (const name of columns) {
    const info = describeMetric(name, overrides);
    if (info) {
      const direction = info.higherIsBetter ? '↑ higher is better' : '↓ lower is better';
      lines.push(`- **${info.label}** (\`${name}\`, ${direction}): ${info.description}.`);
    } else {
      lines.push(`- **${name}**: no description given, so the direction that is better is not marked.`);
    }
  }
  return lines.join('\n') + '\n';
}

function bestValue(values: (number | undefined)[], higherIsBetter: boolean): number | undefined {
  const finite = values.filter((value): value is number => value !== undefined && Number.isFinite(value));
  if (finite.length === 0) return undefined;
  return higherIsBetter ? Math.max(...finite) : Math.min(...finite);
}

const FACT_LABELS: Record<string, string> = {
  backend: 'TensorFlow.js backend',
  startedAt: 'started',
  finishedAt: 'finished',
  durationSeconds: 'duration of this invocation (s)',
  trainTokensPerSecond: 'training throughput (tokens/s)',
  pretrainTokensPerSecond: 'pretraining throughput (tokens/s)',
  machine: 'machine',
  generationTokensPerSecond: 'generation throughput (tokens/s)',
};

function factsMarkdownTable(facts: RunFacts): string {
  const lines = ['| fact | value |', '|---|---|'];
  for (const [key, value] of Object.entries(facts)) {
    if (value === undefined) continue;
    const text = typeof value === 'number' && !Number.isInteger(value) ? value.toFixed(2) : String(value);
    lines.push(`| ${escapeCell(FACT_LABELS[key] ?? key)} | ${escapeCell(text)} |`);
  }
  return lines.join('\n') + '\n';
}

/**
 * Writes report.md and its charts (charts/*.html, plotly.js inline) into outDir and returns their paths.
 * Every file is written atomically, so a report being rewritten is never seen half-written.
 */
export function writeReport(outDir: string, input: ReportInput): ReportFiles {
  const chartsDir = path.join(outDir, 'charts');
  const charts: { file: string; title: string }[] = [];

  if (metricColumns(input.metrics).length > 0) {
    const file = path.join(chartsDir, 'metrics.html');
    const metricLabels = metricAxisLabels(metricColumns(input.metrics), input.metricInfo);
    const figure = metricComparisonFigure(input.metrics, input.intervals, { title: 'Metrics by system', metricLabels });
    writePlotlyHtml(file, figure, { title: 'Metrics by system' });
    charts.push({ file, title: 'Metrics by system' });
  }
  if (input.lossCurves && input.lossCurves.length > 0) {
    const file = path.join(chartsDir, 'loss.html');
    writePlotlyHtml(file, lossCurveFigure(input.lossCurves, 'Loss curves'), { title: 'Loss curves' });
    charts.push({ file, title: 'Loss curves' });
  }
  if (input.lengthDistributions && input.lengthDistributions.length > 0) {
    const file = path.join(chartsDir, 'lengths.html');
    const figure = histogramFigure(input.lengthDistributions, { title: 'Summary lengths', xTitle: `${input.lengthUnit ?? 'words'} per summary` });
    writePlotlyHtml(file, figure, { title: 'Summary lengths' });
    charts.push({ file, title: 'Summary lengths' });
  }

  const sections: string[] = [`# ${input.title ?? 'lora-lab run report'}\n`];

  sections.push('## Results\n');
  sections.push(metricsMarkdownTable(input.metrics, input.intervals, input.metricInfo, input.unrankedSystems));
  if (input.intervals) {
    sections.push(`Values in brackets are confidence intervals${input.intervalMethod ? ` (${input.intervalMethod})` : ''}.\n`);
  }

  if (charts.length > 0) {
    sections.push('## Charts\n');
    sections.push(
      charts.map((chart) => `- [${chart.title}](${path.relative(outDir, chart.file).split(path.sep).join('/')})`).join('\n') +
        '\n\nEach chart is a standalone HTML file with plotly.js inline, so it opens offline; its toolbar exports PNG.\n',
    );
  }

  if (input.facts && Object.keys(input.facts).length > 0) {
    sections.push('## Run\n');
    sections.push(factsMarkdownTable(input.facts));
  }

  if (input.notes && input.notes.length > 0) {
    sections.push('## Notes\n');
    sections.push(input.notes.map((note) => `- ${note}`).join('\n') + '\n');
  }

  sections.push('## Configuration\n');
  sections.push('```json\n' + JSON.stringify(input.config, null, 2) + '\n```\n');

  const report = path.join(outDir, 'report.md');
  writeFileAtomic(report, sections.join('\n'));
  return { report, charts: charts.map((chart) => chart.file) };
}

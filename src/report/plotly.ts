import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Config, Data, Layout } from 'plotly.js-dist-min';
import { writeFileAtomic } from '../atomic-file';

export { writeFileAtomic };

/** A plotly.js figure as Plotly.newPlot takes it. */
export interface PlotlyFigure {
  data: Data[];
  layout: Partial<Layout>;
}

/** One training or evaluation loss curve. */
export interface LossSeries {
  name: string;
  steps: number[];
  losses: number[];
}

/** A confidence interval [low, high] in the metric's own units, e.g. from a bootstrap. */
export type Interval = [low: number, high: number];

/** Metric values per system: metrics[system][metric]. */
export type MetricTable = Record<string, Record<string, number>>;

/** Intervals per system and metric, in the same layout as MetricTable. */
export type IntervalTable = Record<string, Record<string, Interval>>;

export interface HistogramSeries {
  name: string;
  values: number[];
}

export interface MetricFigureOptions {
  title?: string;
  /** Panel titles per metric name, e.g. { rouge1: 'ROUGE-1 (higher is better)' }; the name itself otherwise. */
  metricLabels?: Record<string, string>;
}

export interface HistogramOptions {
  title?: string;
  /** Axis title for the values, e.g. "tokens per lay summary". */
  xTitle?: string;
  /** Width of one bin in the values' units. Plotly picks the bins when omitted. */
  binSize?: number;
}

/** The colour cycle of plotly's default template, so a system keeps its colour across panels. */
const COLORS = ['#636efa', '#ef553b', '#00cc96', '#ab63fa', '#ffa15a', '#19d3f3', '#ff6692', '#b6e880', '#ff97ff', '#fecb52'];

/** Plot options for every chart: no plotly logo, and the PNG export button sized for slides. */
export const PLOTLY_CONFIG: Partial<Config> = {
  responsive: true,
  displaylogo: false,
  toImageButtonOptions: { format: 'png', width: 1200, height: 700, scale: 2 },
};

/** Builds a line chart of loss against optimizer step, one line per series. */
export function lossCurveFigure(series: LossSeries[], title = 'Loss'): PlotlyFigure {
  for (const item of series) {
    if (item.steps.length !== item.losses.length) {
      throw new Error(
        `Loss series "${item.name}" has ${item.steps.length} steps but ${item.losses.length} losses. Pass one loss per step.`,
      );
    }
  }

  const data: Data[] = series.map((item, index) => ({
    type: 'scatter',
    mode: item.steps.length > 1 ? 'lines' : 'markers',
    name: item.name,
    x: item.steps,
    y: item.losses,
    line: { color: COLORS[index % COLORS.length] },
  }));
  const layout: Partial<Layout> = {
    title: { text: title },
    xaxis: { title: { text: 'optimizer step' } },
    yaxis: { title: { text: 'cross-entropy loss (nats per token)' } },
    hovermode: 'x unified',
  };
  return { data, layout };
}

/**
 * Builds a bar chart that compares systems on several metrics, one panel per metric.
 * Each panel has its own y axis because the metrics have different scales
 * (ROUGE in [0, 1] next to a grade level near 12 would flatten the ROUGE bars).
 * A system keeps one colour in every panel. Intervals, where given, are drawn as error bars.
 */
export function metricComparisonFigure(
  metrics: MetricTable,
  intervals?: IntervalTable,
  options: MetricFigureOptions = {},
): PlotlyFigure {
  const systems = Object.keys(metrics);
  const metricNames = metricColumns(metrics);
  if (systems.length === 0 || metricNames.length === 0) {
    throw new Error('metricComparisonFigure needs at least one system with one metric value.');
  }

  const data: Data[] = [];
  // Each system gets one legend entry, on its first bar, even when it has no value in the first panel.
  const inLegend = new Set<string>();
  for (const [metricIndex, metric] of metricNames.entries()) {
    const axisSuffix = metricIndex === 0 ? '' : String(metricIndex + 1);
    for (const [systemIndex, system] of systems.entries()) {
      const value = metrics[system][metric];
      if (value === undefined) continue;
      const showlegend = !inLegend.has(system);
      inLegend.add(system);

      const interval = intervals?.[system]?.[metric];
      data.push({
        type: 'bar',
        name: system,
        legendgroup: system,
        showlegend,
        x: [system],
        y: [value],
        xaxis: `x${axisSuffix}` as 'x',
        yaxis: `y${axisSuffix}` as 'y',
        marker: { color: COLORS[systemIndex % COLORS.length] },
        error_y: interval
          ? { type: 'data', symmetric: false, array: [interval[1] - value], arrayminus: [value - interval[0]], visible: true }
          : undefined,
        hovertemplate: `${system}<br>${metric}: %{y:.4g}<extra></extra>`,
      });
    }
  }

  const layout: Record<string, unknown> = {
    title: { text: options.title ?? 'Metrics by system' },
    grid: { rows: 1, columns: metricNames.length, pattern: 'independent' },
    showlegend: true,
    legend: { orientation: 'h', y: -0.15 },
    margin: { t: 80 },
  };
  for (const [metricIndex, metric] of metricNames.entries()) {
    const axisSuffix = metricIndex === 0 ? '' : String(metricIndex + 1);
    layout[`xaxis${axisSuffix}`] = { title: { text: options.metricLabels?.[metric] ?? metric }, showticklabels: false };
    layout[`yaxis${axisSuffix}`] = { rangemode: 'tozero' };
  }
  return { data, layout: layout as Partial<Layout> };
}

/** Builds overlaid histograms, e.g. of summary lengths in tokens, one per series. */
export function histogramFigure(series: HistogramSeries[], options: HistogramOptions = {}): PlotlyFigure {
  const data: Data[] = series.map((item, index) => ({
    type: 'histogram',
    name: item.name,
    x: item.values,
    opacity: series.length > 1 ? 0.6 : 1,
    marker: { color: COLORS[index % COLORS.length] },
    xbins: options.binSize === undefined ? undefined : { size: options.binSize },
  }));
  const layout: Partial<Layout> = {
    title: { text: options.title ?? 'Distribution' },
    barmode: 'overlay',
    xaxis: { title: { text: options.xTitle ?? 'value' } },
    yaxis: { title: { text: 'count' } },
  };
  return { data, layout };
}

/** Metric names in first-seen order over all systems. */
export function metricColumns(metrics: MetricTable): string[] {
  const names: string[] = [];
  for (const row of Object.values(metrics)) {
    for (const name of Object.keys(row)) {
      if (!names.includes(name)) names.push(name);
    }
  }
  return names;
}

let plotlySourceCache: string | undefined;

/** Returns the minified plotly.js bundle (about 4.8 MB) that charts embed, read once per process. */
export function plotlySource(): string {
  if (plotlySourceCache === undefined) {
    const file = require.resolve('plotly.js-dist-min/plotly.min.js');
    plotlySourceCache = fs.readFileSync(file, 'utf8');
    if (/<\/script/i.test(plotlySourceCache)) {
      throw new Error(`${file} contains "</script", so it cannot be inlined in an HTML <script> element.`);
    }
  }
  return plotlySourceCache;
}

/** Serialises a value as JSON that is safe inside an HTML <script> element. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Renders a figure as a standalone HTML page with plotly.js inline, so it opens without network access. */
export function plotlyHtml(figure: PlotlyFigure, title: string): string {
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<title>${escapeHtml(title)}</title>`,
    `<script>${plotlySource()}</script>`,
    '</head>',
    '<body style="margin:0">',
    '<div id="plot" style="width:100%;height:100vh"></div>',
    '<script>',
    `Plotly.newPlot("plot", ${scriptJson(figure.data)}, ${scriptJson(figure.layout)}, ${scriptJson(PLOTLY_CONFIG)});`,
    '</script>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

/** Writes a figure as a self-contained HTML file (plotly.js inline, no CDN), atomically. */
export function writePlotlyHtml(file: string, figure: PlotlyFigure, options: { title?: string } = {}): void {
  const title = options.title ?? titleText(figure) ?? path.basename(file, path.extname(file));
  writeFileAtomic(file, plotlyHtml(figure, title));
}

function titleText(figure: PlotlyFigure): string | undefined {
  const title = figure.layout.title;
  if (typeof title === 'string') return title;
  return title?.text;
}

import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { detokenize } from '../data/detokenize';
import type { HistogramSeries, IntervalTable, LossSeries, MetricTable } from './plotly';

/**
 * Readers for the files `lora-lab run` leaves in its output folder (metrics.json, predictions.jsonl,
 * scores.jsonl, checkpoints/TASK/trainer_state.json), for notebooks and the blog export.
 */

const pairedSchema = z.object({ meanDifference: z.number(), low: z.number(), high: z.number(), pValue: z.number(), n: z.number() });

const runMetricsSchema = z.object({
  articles: z.number().int().min(0),
  interval: z.string(),
  metrics: z.record(z.string(), z.record(z.string(), z.number())),
  intervals: z.record(z.string(), z.record(z.string(), z.tuple([z.number(), z.number()]))),
  pairedLoraMinusBase: z.record(z.string(), pairedSchema).optional(),
});

/** Contents of a run's metrics.json. */
export interface RunMetrics {
  /** Held-out articles scored. */
  articles: number;
  /** Method behind the intervals, e.g. "95% percentile bootstrap over articles". */
  interval: string;
  metrics: MetricTable;
  intervals: IntervalTable;
  /** Paired bootstrap of base + LoRA minus base, per metric. */
  pairedLoraMinusBase?: Record<string, z.infer<typeof pairedSchema>>;
}

function readJsonFile(file: string): unknown {
  if (!fs.existsSync(file)) throw new Error(`File not found: ${file}. Run 'lora-lab run' to create it, or pass another run folder.`);
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`${file}: not valid JSON (${(error as Error).message}).`);
  }
}

/** Reads and validates metrics.json; the error names the file and the field. */
export function readRunMetrics(file: string): RunMetrics {
  const parsed = runMetricsSchema.safeParse(readJsonFile(file));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `field "${issue.path.join('.') || '(root)'}": ${issue.message}`);
    throw new Error(`${file}: invalid metrics file:\n  ${problems.join('\n  ')}`);
  }
  return parsed.data;
}

/** One line of scores.jsonl: an article's metric values for one system. */
export interface ScoreRow {
  id: string;
  system: string;
  scores: Record<string, number>;
}

/** Reads scores.jsonl, one object per line with id, system and numeric metric fields. */
export function readScores(file: string): ScoreRow[] {
  if (!fs.existsSync(file)) throw new Error(`File not found: ${file}. Run 'lora-lab run' to create it, or pass another run folder.`);
  const rows: ScoreRow[] = [];
  for (const [index, line] of fs.readFileSync(file, 'utf8').split('\n').entries()) {
    if (line.trim() === '') continue;
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(line) as Record<string, unknown>;
    } catch (error) {
      throw new Error(`${file}:${index + 1}: not valid JSON (${(error as Error).message}).`);
    }
    if (typeof json.id !== 'string' || typeof json.system !== 'string') {
      throw new Error(`${file}:${index + 1}: fields "id" and "system" must be strings.`);
    }
    const scores: Record<string, number> = {};
    for (const [key, value] of Object.entries(json)) {
      if (typeof value === 'number') scores[key] = value;
    }
    rows.push({ id: json.id, system: json.system, scores });
  }
  return rows;
}

/** Keeps the named metrics, in that order, for every system that has at least one of them. */
export function selectMetrics(metrics: MetricTable, intervals: IntervalTable, names: readonly string[]): { metrics: MetricTable; intervals: IntervalTable } {
  const selected: MetricTable = {};
  const selectedIntervals: IntervalTable = {};
  for (const [system, values] of Object.entries(metrics)) {
    const row: Record<string, number> = {};
    const rowIntervals: IntervalTable[string] = {};
    for (const name of names) {
      if (values[name] === undefined) continue;
      row[name] = values[name];
      const interval = intervals[system]?.[name];
      if (interval) rowIntervals[name] = interval;
    }
    if (Object.keys(row).length === 0) continue;
    selected[system] = row;
    selectedIntervals[system] = rowIntervals;
  }
  return { metrics: selected, intervals: selectedIntervals };
}

/** One cell of the results table in long form, for a DataFrame. */
export interface ResultRow {
  system: string;
  metric: string;
  value: number;
  /** Interval bounds, null where the run computed none. */
  low: number | null;
  high: number | null;
}

/**
 * Lists the results in long form, one row per system and metric, in the order of `names`.
 * With `decimals`, values are rounded for display.
 */
export function resultRows(metrics: MetricTable, intervals: IntervalTable, names: readonly string[], decimals?: number): ResultRow[] {
  const round = (value: number) => (decimals === undefined ? value : Number(value.toFixed(decimals)));
  const rows: ResultRow[] = [];
  for (const [system, values] of Object.entries(metrics)) {
    for (const name of names) {
      if (values[name] === undefined) continue;
      const interval = intervals[system]?.[name];
      rows.push({ system, metric: name, value: round(values[name]), low: interval ? round(interval[0]) : null, high: interval ? round(interval[1]) : null });
    }
  }
  return rows;
}

/** The fields of a predictions.jsonl row that the readers here use. */
export interface PredictionLike {
  id: string;
  system: string;
  prediction: string;
  reference: string;
}

/** Whitespace tokens, the unit of the report's length chart (the corpus text is pre-tokenised). */
export function wordCount(text: string): number {
  const trimmed = text.trim();
  return trimmed === '' ? 0 : trimmed.split(/\s+/).length;
}

/**
 * Words per summary for each system, then for the references, one series each. The references are
 * taken once per article, from the first system's rows.
 */
export function summaryLengths(rows: PredictionLike[], systems: readonly string[], referenceName = 'reference summaries'): HistogramSeries[] {
  const series = systems.map((system) => ({ name: system, values: rows.filter((row) => row.system === system).map((row) => wordCount(row.prediction)) }));
  const seen = new Set<string>();
  const references: number[] = [];
  for (const row of rows.filter((item) => item.system === systems[0])) {
    if (seen.has(row.id)) continue;
    seen.add(row.id);
    references.push(wordCount(row.reference));
  }
  return [...series, { name: referenceName, values: references }];
}

/** One article's summaries by system, next to the reference. */
export interface SideBySideRow {
  id: string;
  /** Summary per system name, cut to maxWords. */
  summaries: Record<string, string>;
  reference: string;
}

function cutWords(text: string, maxWords: number): string {
  const words = detokenize(text).trim().split(/\s+/).filter(Boolean);
  return words.length > maxWords ? `${words.slice(0, maxWords).join(' ')} …` : words.join(' ');
}

/**
 * Collects the first `count` articles (in the order of the first system's rows) with each system's
 * summary and the reference, detokenised as a reader sees them and cut to maxWords words. A system without a row for the article shows "(missing)".
 */
export function sideBySideExamples(rows: PredictionLike[], systems: readonly string[], options: { count: number; maxWords: number }): SideBySideRow[] {
  const ids = [...new Set(rows.filter((row) => row.system === systems[0]).map((row) => row.id))].slice(0, options.count);
  return ids.map((id) => {
    const summaries: Record<string, string> = {};
    for (const system of systems) {
      const row = rows.find((item) => item.system === system && item.id === id);
      summaries[system] = row ? cutWords(row.prediction, options.maxWords) : '(missing)';
    }
    const reference = rows.find((item) => item.id === id)?.reference ?? '';
    return { id, summaries, reference: cutWords(reference, options.maxWords) };
  });
}

const trainerStateSchema = z.object({
  trainLoss: z.array(z.object({ step: z.number(), loss: z.number() })),
  evalLoss: z.array(z.object({ step: z.number(), loss: z.number() })),
});

/**
 * Loss curves of a run from its last training checkpoints (checkpoints/pretrain and checkpoints/lora),
 * named as in the run's report. A task without a checkpoint is left out: a run that tuned a downloaded
 * model has no pretraining curve.
 */
export function readLossCurves(runDir: string): LossSeries[] {
  const series: LossSeries[] = [];
  for (const [task, label] of [['pretrain', 'pretrain'], ['lora', 'LoRA']] as const) {
    const file = path.join(runDir, 'checkpoints', task, 'trainer_state.json');
    if (!fs.existsSync(file)) continue;
    const parsed = trainerStateSchema.safeParse(readJsonFile(file));
    if (!parsed.success) throw new Error(`${file}: invalid trainer state (field "${parsed.error.issues[0].path.join('.')}": ${parsed.error.issues[0].message}).`);
    const { trainLoss, evalLoss } = parsed.data;
    series.push({ name: `${label} train`, steps: trainLoss.map((point) => point.step), losses: trainLoss.map((point) => point.loss) });
    if (evalLoss.length > 0) series.push({ name: `${label} held-out`, steps: evalLoss.map((point) => point.step), losses: evalLoss.map((point) => point.loss) });
  }
  return series;
}

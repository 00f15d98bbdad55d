import * as fs from 'node:fs';

import type { ProgressCallback } from '../progress';
import { bertScore, type TokenEmbedder } from './bertscore';
import { bootstrapMeanInterval, type BootstrapOptions, type MeanInterval } from './bootstrap';
import type { EncoderInfo } from './encoders';
import { type ConditionalScorer, longDocFactScore, type SentenceEncoder } from './longdocfactscore';
import { loadReadability, type Readability } from './readability';
import { type RougeScore, rougeScores, type RougeScores } from './rouge';
import { splitSentencesPunktLike } from './sentences';

/** One example to score. `source` (the article) is carried along for metrics that need it. */
export interface EvaluationInput {
  prediction: string;
  reference: string;
  source?: string;
}

/**
 * Per-row metrics. The names are a public contract: ROUGE F1 under rouge1, rouge2, rougeL,
 * rougeLsum with precision and recall under the _p and _r suffixes (precision relative to the
 * prediction), and textstat readability of the prediction under fkgl, dcrs, cli, fre.
 */
export interface RowMetrics {
  rouge1: number;
  rouge1_p: number;
  rouge1_r: number;
  rouge2: number;
  rouge2_p: number;
  rouge2_r: number;
  rougeL: number;
  rougeL_p: number;
  rougeL_r: number;
  rougeLsum: number;
  rougeLsum_p: number;
  rougeLsum_r: number;
  fkgl: number;
  dcrs: number;
  cli: number;
  fre: number;
}

/** Metrics that need a model, under the same naming contract as RowMetrics. */
export interface ModelMetrics {
  /** BERTScore precision, recall and F1 of the prediction against the reference. */
  bertscore_p: number;
  bertscore_r: number;
  bertscore_f1: number;
  /** LongDocFACTScore of the prediction against the source; NaN (null in JSON) without sentences. */
  ldfacts: number;
}

/** A scored row: every RowMetrics field, plus the model metrics that were configured. */
export type ScoredRow = RowMetrics & Partial<ModelMetrics>;

export const METRIC_NAMES = [
  'rouge1', 'rouge1_p', 'rouge1_r', 'rouge2', 'rouge2_p', 'rouge2_r', 'rougeL', 'rougeL_p', 'rougeL_r',
  'rougeLsum', 'rougeLsum_p', 'rougeLsum_r', 'fkgl', 'dcrs', 'cli', 'fre',
] as const satisfies readonly (keyof RowMetrics)[];

/** Metrics that need a model, present only when evaluateRows is given one. */
export const MODEL_METRIC_NAMES = ['bertscore_p', 'bertscore_r', 'bertscore_f1', 'ldfacts'] as const satisfies readonly (keyof ModelMetrics)[];

/** BERTScore configuration: the token embedder and its identity for the summary. */
export interface BertScoreSetting {
  embedder: TokenEmbedder;
  info: EncoderInfo;
  /** idf weights from the evaluated references, as bert_score's idf=True. Default false, as bert_score. */
  idf?: boolean;
}

/** LongDocFACTScore configuration: sentence encoder, conditional scorer and their identities. */
export interface FactScoreSetting {
  encoder: SentenceEncoder;
  scorer: ConditionalScorer;
  encoderInfo: EncoderInfo;
  scorerInfo: EncoderInfo;
}

export interface EvaluateOptions {
  /**
   * Score as the BioLaySumm 2023-2025 evaluation scripts do: rougeLsum on sentences from NLTK's
   * sent_tokenize (imitated by splitSentencesPunktLike) instead of newlines, and prediction and
   * reference passed to rouge_score in swapped order. The swap leaves rouge1, rouge2 and rougeL
   * F1 unchanged and only exchanges their P and R, but the union LCS of rougeLsum is asymmetric,
   * so rougeLsum F1 changes too. P and R here are exchanged back, so _p stays the precision of
   * the prediction in both modes.
   */
  biolaysumm?: boolean;
  /** Readability scorer; loaded from Debian's hyph_en_US.dic and the Dale-Chall list if absent. */
  readability?: Readability;
  /** Stem cache shared across rows. */
  stemCache?: Map<string, string>;
}

function swapped(score: RougeScore): RougeScore {
  return { precision: score.recall, recall: score.precision, fmeasure: score.fmeasure };
}

function rougeFor(row: EvaluationInput, options: EvaluateOptions): RougeScores {
  if (!options.biolaysumm) return rougeScores(row.reference, row.prediction, { stemCache: options.stemCache });
  const scores = rougeScores(row.prediction, row.reference, {
    stemCache: options.stemCache,
    splitSentences: splitSentencesPunktLike,
  });
  return {
    rouge1: swapped(scores.rouge1),
    rouge2: swapped(scores.rouge2),
    rougeL: swapped(scores.rougeL),
    rougeLsum: swapped(scores.rougeLsum),
  };
}

/** Scores one row with a readability scorer already loaded. */
export function scoreRowWith(row: EvaluationInput, readability: Readability, options: EvaluateOptions = {}): RowMetrics {
  const rouge = rougeFor(row, options);
  const text = readability.scores(row.prediction);
  return {
    rouge1: rouge.rouge1.fmeasure,
    rouge1_p: rouge.rouge1.precision,
    rouge1_r: rouge.rouge1.recall,
    rouge2: rouge.rouge2.fmeasure,
    rouge2_p: rouge.rouge2.precision,
    rouge2_r: rouge.rouge2.recall,
    rougeL: rouge.rougeL.fmeasure,
    rougeL_p: rouge.rougeL.precision,
    rougeL_r: rouge.rougeL.recall,
    rougeLsum: rouge.rougeLsum.fmeasure,
    rougeLsum_p: rouge.rougeLsum.precision,
    rougeLsum_r: rouge.rougeLsum.recall,
    ...text,
  };
}

/** Scores one row: ROUGE (stemmed, as rouge_score) against the reference, readability of the prediction. */
export async function scoreRow(row: EvaluationInput, options: EvaluateOptions = {}): Promise<RowMetrics> {
  const readability = options.readability ?? (await loadReadability());
  return scoreRowWith(row, readability, options);
}

export type MetricSummary = Record<(typeof METRIC_NAMES)[number], MeanInterval> &
  Partial<Record<(typeof MODEL_METRIC_NAMES)[number], MeanInterval>>;

/** Encoders behind the model-based metrics. Scores from different encoders or layers are not comparable. */
export interface EncoderRecord {
  bertscore?: EncoderInfo & { idf: boolean };
  ldfacts?: { encoder: EncoderInfo; scorer: EncoderInfo };
}

export interface EvaluationSummary {
  rows: number;
  mode: 'rouge_score' | 'biolaysumm';
  bootstrap: Required<BootstrapOptions>;
  metrics: MetricSummary | null;
  /** Present when BERTScore or LongDocFACTScore ran. */
  encoders?: EncoderRecord;
}

export interface EvaluateRowsOptions extends EvaluateOptions {
  bootstrap?: BootstrapOptions;
  onProgress?: ProgressCallback;
  bertScore?: BertScoreSetting;
  /** Needs `source` on every row. */
  factScore?: FactScoreSetting;
}

/**
 * Per-metric means with percentile bootstrap intervals; null for no rows. A model metric is
 * summarised when every row has it, over its finite values (LongDocFACTScore is NaN for a text
 * without sentences), so its `n` can be below the row count.
 */
export function summarizeMetrics(scored: ScoredRow[], bootstrap: BootstrapOptions = {}): MetricSummary | null {
  if (scored.length === 0) return null;
  const summary = {} as MetricSummary;
  for (const name of METRIC_NAMES) {
    summary[name] = bootstrapMeanInterval(
      scored.map((row) => row[name]),
      bootstrap,
    );
  }
  for (const name of MODEL_METRIC_NAMES) {
    if (!scored.every((row) => row[name] !== undefined)) continue;
    const values = scored.map((row) => row[name] as number).filter(Number.isFinite);
    if (values.length > 0) summary[name] = bootstrapMeanInterval(values, bootstrap);
  }
  return summary;
}

/** Adds bertscore_p/_r/_f1 to `scored` in place. */
async function addBertScores(rows: EvaluationInput[], scored: ScoredRow[], setting: BertScoreSetting, progress?: ProgressCallback): Promise<void> {
  const startedAt = Date.now();
  progress?.({ kind: 'start', task: 'bertscore', total: rows.length, unit: 'rows' });
  const scores = await bertScore(
    rows.map((row) => row.prediction),
    rows.map((row) => row.reference),
    { embedder: setting.embedder, idf: setting.idf ?? false },
  );
  scores.forEach((score, i) => Object.assign(scored[i], { bertscore_p: score.precision, bertscore_r: score.recall, bertscore_f1: score.f1 }));
  progress?.({ kind: 'end', task: 'bertscore', done: rows.length, seconds: (Date.now() - startedAt) / 1000 });
}

/** Adds ldfacts to `scored` in place; every row needs a source. */
async function addFactScores(rows: EvaluationInput[], scored: ScoredRow[], setting: FactScoreSetting, progress?: ProgressCallback): Promise<void> {
  const missing = rows.findIndex((row) => typeof row.source !== 'string');
  if (missing >= 0) throw new Error(`LongDocFACTScore needs the source article: row ${missing} has no "source" field.`);
  const startedAt = Date.now();
  progress?.({ kind: 'start', task: 'ldfacts', total: rows.length, unit: 'rows' });
  for (const [i, row] of rows.entries()) {
    scored[i].ldfacts = await longDocFactScore(row.source as string, row.prediction, { encoder: setting.encoder, scorer: setting.scorer });
    progress?.({ kind: 'update', task: 'ldfacts', done: i + 1, total: rows.length });
  }
  progress?.({ kind: 'end', task: 'ldfacts', done: rows.length, seconds: (Date.now() - startedAt) / 1000 });
}

/** Scores every row and summarizes the metrics. */
export async function evaluateRows(
  rows: EvaluationInput[],
  options: EvaluateRowsOptions = {},
): Promise<{ scored: ScoredRow[]; summary: EvaluationSummary }> {
  const readability = options.readability ?? (await loadReadability());
  const stemCache = options.stemCache ?? new Map<string, string>();
  const progress = options.onProgress;
  const startedAt = Date.now();
  progress?.({ kind: 'start', task: 'evaluate', total: rows.length, unit: 'rows' });

  const scored: ScoredRow[] = [];
  for (const row of rows) {
    scored.push(scoreRowWith(row, readability, { ...options, stemCache }));
    if (scored.length % 20 === 0) progress?.({ kind: 'update', task: 'evaluate', done: scored.length, total: rows.length });
  }
  progress?.({ kind: 'end', task: 'evaluate', done: scored.length, seconds: (Date.now() - startedAt) / 1000 });

  const encoders: EncoderRecord = {};
  if (options.bertScore) {
    await addBertScores(rows, scored, options.bertScore, progress);
    encoders.bertscore = { ...options.bertScore.info, idf: options.bertScore.idf ?? false };
  }
  if (options.factScore) {
    await addFactScores(rows, scored, options.factScore, progress);
    encoders.ldfacts = { encoder: options.factScore.encoderInfo, scorer: options.factScore.scorerInfo };
  }

  const bootstrap = { resamples: 1000, confidence: 0.95, seed: 0, ...options.bootstrap };
  const summary: EvaluationSummary = {
    rows: scored.length,
    mode: options.biolaysumm ? 'biolaysumm' : 'rouge_score',
    bootstrap,
    metrics: summarizeMetrics(scored, bootstrap),
  };
  if (options.bertScore || options.factScore) summary.encoders = encoders;
  return { scored, summary };
}

/** A row of the input file that could not be scored. */
export interface BadRow {
  file: string;
  line: number;
  field: string;
  message: string;
}

/** Input JSONL row: {id, prediction, reference, source?}; other fields are kept and written back. */
export interface EvaluationFileRow extends EvaluationInput {
  id: string | number;
  [field: string]: unknown;
}

/**
 * Parses JSONL rows, collecting a BadRow (file, line, field) for each row that cannot be used.
 * With `requireSource` (LongDocFACTScore) a row without a string `source` is bad too.
 */
export function parseEvaluationJsonl(
  text: string,
  file: string,
  options: { requireSource?: boolean } = {},
): { rows: EvaluationFileRow[]; badRows: BadRow[] } {
  const rows: EvaluationFileRow[] = [];
  const badRows: BadRow[] = [];
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const line = index + 1;
    if (lines[index].trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(lines[index]);
    } catch (error) {
      badRows.push({ file, line, field: '(row)', message: `invalid JSON: ${(error as Error).message}` });
      continue;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      badRows.push({ file, line, field: '(row)', message: 'expected a JSON object {id, prediction, reference, source?}' });
      continue;
    }
    const record = value as Record<string, unknown>;
    const problems: BadRow[] = [];
    if (typeof record.id !== 'string' && typeof record.id !== 'number') {
      problems.push({ file, line, field: 'id', message: `expected a string or number, got ${describe(record.id)}` });
    }
    for (const field of ['prediction', 'reference'] as const) {
      if (typeof record[field] !== 'string') {
        problems.push({ file, line, field, message: `expected a string, got ${describe(record[field])}` });
      }
    }
    if (record.source !== undefined && typeof record.source !== 'string') {
      problems.push({ file, line, field: 'source', message: `expected a string when present, got ${describe(record.source)}` });
    } else if (options.requireSource && record.source === undefined) {
      problems.push({ file, line, field: 'source', message: 'missing: LongDocFACTScore scores the prediction against the source article' });
    }
    if (problems.length > 0) badRows.push(...problems);
    else rows.push(record as EvaluationFileRow);
  }
  return { rows, badRows };
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing (field missing)';
  if (value === null) return 'null';
  return Array.isArray(value) ? 'an array' : typeof value;
}

export interface EvaluateFileResult {
  /** `badRows` is the number of input lines that could not be scored. */
  /** `bySystem` contains per-system summaries when rows carry a `system` field, else null. */
  summary: EvaluationSummary & { input: string; badRows: number; emptyPredictions: number; bySystem: Record<string, SystemSummary> | null };
  badRows: BadRow[];
}

/**
 * Scores a JSONL file of {id, prediction, reference, source?} rows. Writes each usable row with
 * a `metrics` object to `outJsonl`, and the summary (means with bootstrap intervals, bad-row
 * count and details) to `summaryJson` when given. Rows that cannot be used are returned and
 * counted, never dropped silently.
 */
/** Per-system summaries and repeated ids within a system, from the rows' optional `system` field. */
export interface SystemSummary {
  rows: number;
  duplicateIds: number;
  metrics: MetricSummary | null;
}

/**
 * Summarizes rows per `system` when the file mixes systems, because one mean over several systems'
 * predictions of the same articles would mean nothing. Returns null when no row names a system.
 */
export function summarizeBySystem(rows: EvaluationFileRow[], scored: RowMetrics[], bootstrap: BootstrapOptions = {}): Record<string, SystemSummary> | null {
  if (!rows.some((row) => typeof row.system === 'string')) return null;
  const groups = new Map<string, number[]>();
  rows.forEach((row, i) => {
    const system = typeof row.system === 'string' ? row.system : '(no system)';
    groups.set(system, [...(groups.get(system) ?? []), i]);
  });
  const result: Record<string, SystemSummary> = {};
  for (const [system, indices] of groups) {
    const ids = indices.map((i) => String(rows[i].id));
    result[system] = {
      rows: indices.length,
      duplicateIds: ids.length - new Set(ids).size,
      metrics: summarizeMetrics(
        indices.map((i) => scored[i]),
        bootstrap,
      ),
    };
  }
  return result;
}

export async function evaluateFile(
  inputJsonl: string,
  outJsonl: string,
  summaryJson?: string,
  options: EvaluateRowsOptions = {},
): Promise<EvaluateFileResult> {
  if (!fs.existsSync(inputJsonl)) {
    throw new Error(`Evaluation input not found: ${inputJsonl}. Expected JSONL rows {id, prediction, reference, source?}.`);
  }
  const { rows, badRows } = parseEvaluationJsonl(fs.readFileSync(inputJsonl, 'utf8'), inputJsonl, {
    requireSource: options.factScore !== undefined,
  });
  const { scored, summary } = await evaluateRows(rows, options);

  const lines = rows.map((row, i) => JSON.stringify({ ...row, metrics: scored[i] }));
  fs.writeFileSync(outJsonl, lines.length > 0 ? `${lines.join('\n')}\n` : '');

  // A row with several invalid fields yields several BadRow entries but counts once.
  const fileSummary = {
    input: inputJsonl,
    ...summary,
    badRows: new Set(badRows.map((bad) => bad.line)).size,
    // Empty predictions are scored (ROUGE 0, extreme readability values), so they are counted for the caller to see.
    emptyPredictions: rows.filter((row) => row.prediction.trim() === '').length,
    bySystem: summarizeBySystem(rows, scored, options.bootstrap),
  };
  if (summaryJson !== undefined) {
    fs.writeFileSync(summaryJson, `${JSON.stringify({ ...fileSummary, badRowDetails: badRows }, null, 2)}\n`);
  }
  return { summary: fileSummary, badRows };
}

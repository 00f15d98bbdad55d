import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';

/** One main-text section of an article. */
export interface ElifeSection {
  heading: string;
  text: string;
}

/**
 * One eLife article, normalised from either corpus layout. Text fields are exactly as in the
 * corpus (pre-tokenised: "development , yet"); `abstract` and `summary` are null where the
 * source has none or an empty one.
 */
export interface ElifeArticle {
  id: string;
  year: number | null;
  title: string | null;
  abstract: string | null;
  summary: string | null;
  keywords: string[];
  headings: string[];
  sections: ElifeSection[];
}

/** An article with both an abstract and a lay summary: an input→output pair. */
export type ElifePair = ElifeArticle & { abstract: string; summary: string };

/**
 * A problem found in one record. `line` is the 1-based line number in a JSON Lines file and the
 * 0-based array index in a JSON array file. `severity` 'skipped' means the record was not loaded
 * (invalid JSON or wrong types); 'incomplete' means it was loaded but cannot be a training pair.
 */
export interface CorpusIssue {
  file: string;
  line: number;
  field: string;
  message: string;
  severity: 'skipped' | 'incomplete';
}

export interface LoadCounts {
  records: number;
  kept: number;
  skipped: number;
  pairs: number;
  missingAbstract: number;
  missingSummary: number;
}

export interface LoadResult {
  file: string;
  articles: ElifeArticle[];
  issues: CorpusIssue[];
  counts: LoadCounts;
}

export const SPLIT_NAMES = ['train', 'val', 'test', 'test_goldsack2022'] as const;
export type SplitName = (typeof SPLIT_NAMES)[number];

export interface CorpusSplit {
  name: SplitName;
  files: LoadResult[];
  articles: ElifeArticle[];
  pairs: ElifePair[];
  issues: CorpusIssue[];
  counts: LoadCounts;
}

export interface ElifeCorpus {
  dir: string;
  splits: Partial<Record<SplitName, CorpusSplit>>;
}

/** A row of the kept/skipped table that `lora-lab data stats` and the run summary print. */
export interface CorpusCountRow extends LoadCounts {
  split: SplitName;
  file: string;
}

/**
 * Files read for each split, in order. A JSON Lines name wins over the JSON array name of the
 * same split, so a folder holding both is read once. train_summaries_only.jsonl joins the train
 * split: its records have no abstract and serve as pretraining text only.
 */
const SPLIT_FILES: Record<SplitName, { jsonl: string[]; json: string[] }> = {
  train: { jsonl: ['train.jsonl', 'train_summaries_only.jsonl'], json: ['train.json'] },
  val: { jsonl: ['val.jsonl'], json: ['val.json'] },
  test: { jsonl: ['test.jsonl'], json: ['test.json'] },
  test_goldsack2022: { jsonl: ['test_goldsack2022.jsonl'], json: [] },
};

const sectionSchema = z.object({ heading: z.string(), text: z.string() });

/** The JSON Lines layout: abstract and summary as strings, sections as {heading, text}[]. */
const jsonlRecordSchema = z.object({
  id: z.string().min(1),
  year: z.number().int().nullable().optional(),
  title: z.string().nullable().optional(),
  abstract: z.string().nullable().optional(),
  summary: z.string().nullable().optional(),
  keywords: z.array(z.string()).optional(),
  headings: z.array(z.string()).optional(),
  sections: z.array(sectionSchema).optional(),
});

const sentencesSchema = z.union([z.array(z.string()), z.string()]).nullable().optional();

/**
 * The layout of the Goldsack et al. (2022) release: train.json/val.json/test.json, each one JSON
 * array; abstract and summary are lists of sentences, sections a list of sentence lists paired by
 * position with headings. The release's README gives `year` once as int and once as str, so both
 * are accepted.
 */
const goldsackRecordSchema = z.object({
  id: z.string().min(1),
  year: z.union([z.number().int(), z.string().regex(/^\d{4}$/)]).nullable().optional(),
  title: z.string().nullable().optional(),
  abstract: sentencesSchema,
  summary: sentencesSchema,
  keywords: z.array(z.string()).optional(),
  headings: z.array(z.string()).optional(),
  sections: z.array(z.array(z.string())).optional(),
});

function emptyCounts(): LoadCounts {
  return { records: 0, kept: 0, skipped: 0, pairs: 0, missingAbstract: 0, missingSummary: 0 };
}

function addCounts(total: LoadCounts, part: LoadCounts): void {
  total.records += part.records;
  total.kept += part.kept;
  total.skipped += part.skipped;
  total.pairs += part.pairs;
  total.missingAbstract += part.missingAbstract;
  total.missingSummary += part.missingSummary;
}

function nonEmptyOrNull(text: string | null | undefined): string | null {
  if (text === null || text === undefined) return null;
  return text.trim() === '' ? null : text;
}

function joinSentences(value: string[] | string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  const text = Array.isArray(value) ? value.map((sentence) => sentence.trim()).filter(Boolean).join(' ') : value;
  return nonEmptyOrNull(text);
}

export function isPair(article: ElifeArticle): article is ElifePair {
  return article.abstract !== null && article.summary !== null;
}

/** Formats an issue as "file:line field: message" (JSONL) or "file[index] field: message" (JSON). */
export function formatIssue(issue: CorpusIssue): string {
  const where = issue.file.endsWith('.jsonl') ? `${issue.file}:${issue.line}` : `${issue.file}[${issue.line}]`;
  return `${where} ${issue.field}: ${issue.message}`;
}

type RecordSink = (raw: unknown, line: number) => void;

function zodIssues(file: string, line: number, error: z.ZodError): CorpusIssue[] {
  return error.issues.map((issue) => ({
    file,
    line,
    field: issue.path.length > 0 ? issue.path.join('.') : '(record)',
    message: `${issue.message}; the record was skipped. Fix the value or remove the record.`,
    severity: 'skipped' as const,
  }));
}

function normaliseJsonl(record: z.infer<typeof jsonlRecordSchema>): ElifeArticle {
  return {
    id: record.id,
    year: record.year ?? null,
    title: nonEmptyOrNull(record.title),
    abstract: nonEmptyOrNull(record.abstract),
    summary: nonEmptyOrNull(record.summary),
    keywords: record.keywords ?? [],
    headings: record.headings ?? [],
    sections: record.sections ?? [],
  };
}

function normaliseGoldsack(
  record: z.infer<typeof goldsackRecordSchema>,
  file: string,
  line: number,
  issues: CorpusIssue[],
): ElifeArticle {
  const headings = record.headings ?? [];
  const sectionSentences = record.sections ?? [];
  if (sectionSentences.length !== headings.length) {
    issues.push({
      file,
      line,
      field: 'sections',
      message: `${sectionSentences.length} sections but ${headings.length} headings; sections without a heading get heading "".`,
      severity: 'incomplete',
    });
  }
  return {
    id: record.id,
    year: record.year === null || record.year === undefined ? null : Number(record.year),
    title: nonEmptyOrNull(record.title),
    abstract: joinSentences(record.abstract),
    summary: joinSentences(record.summary),
    keywords: record.keywords ?? [],
    headings,
    sections: sectionSentences.map((sentences, index) => ({
      heading: headings[index] ?? '',
      text: sentences.map((sentence) => sentence.trim()).filter(Boolean).join(' '),
    })),
  };
}

function forEachJsonlRecord(text: string, file: string, issues: CorpusIssue[], sink: RecordSink): number {
  const lines = text.split('\n');
  let records = 0;
  lines.forEach((rawLine, index) => {
    const line = rawLine.trim();
    if (line === '') return;
    records += 1;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (error) {
      issues.push({
        file,
        line: index + 1,
        field: '(json)',
        message: `invalid JSON (${(error as Error).message}); the record was skipped. Fix or remove the line.`,
        severity: 'skipped',
      });
      return;
    }
    sink(parsed, index + 1);
  });
  return records;
}

/**
 * Loads one split file in either layout (`format`, else the extension: .jsonl or .json) and validates every
 * record. Nothing is dropped silently: a record that fails validation is counted as skipped with
 * an issue per field, and a record without abstract or summary is kept and reported as incomplete.
 */
export function loadSplitFile(filePath: string, options: { format?: 'jsonl' | 'json'; name?: string } = {}): LoadResult {
  const file = options.name ?? path.basename(filePath);
  const text = fs.readFileSync(filePath, 'utf8');
  const issues: CorpusIssue[] = [];
  const articles: ElifeArticle[] = [];
  const counts = emptyCounts();
  const isJsonl = (options.format ?? (filePath.endsWith('.jsonl') ? 'jsonl' : 'json')) === 'jsonl';

  const accept = (article: ElifeArticle, line: number): void => {
    if (article.abstract === null) {
      counts.missingAbstract += 1;
      issues.push({ file, line, field: 'abstract', message: `missing or empty in ${article.id}; the record is kept but is not an abstract→summary pair.`, severity: 'incomplete' });
    }
    if (article.summary === null) {
      counts.missingSummary += 1;
      issues.push({ file, line, field: 'summary', message: `missing or empty in ${article.id}; the record is kept but is not an abstract→summary pair.`, severity: 'incomplete' });
    }
    if (isPair(article)) counts.pairs += 1;
    articles.push(article);
  };

  if (isJsonl) {
    counts.records = forEachJsonlRecord(text, file, issues, (raw, line) => {
      const result = jsonlRecordSchema.safeParse(raw);
      if (!result.success) {
        issues.push(...zodIssues(file, line, result.error));
        return;
      }
      accept(normaliseJsonl(result.data), line);
    });
  } else {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new Error(`${filePath}: invalid JSON (${(error as Error).message}). Expected one JSON array of article objects, as in the Goldsack et al. 2022 release.`);
    }
    if (!Array.isArray(parsed)) {
      throw new Error(`${filePath}: expected a JSON array of article objects, found ${typeof parsed}. Use .jsonl for one record per line.`);
    }
    counts.records = parsed.length;
    parsed.forEach((raw, index) => {
      const result = goldsackRecordSchema.safeParse(raw);
      if (!result.success) {
        issues.push(...zodIssues(file, index, result.error));
        return;
      }
      accept(normaliseGoldsack(result.data, file, index, issues), index);
    });
  }

  counts.kept = articles.length;
  counts.skipped = counts.records - counts.kept;
  return { file, articles, issues, counts };
}

function splitFilesIn(dir: string, name: SplitName): string[] {
  const { jsonl, json } = SPLIT_FILES[name];
  const jsonlFound = jsonl.filter((file) => fs.existsSync(path.join(dir, file)));
  if (jsonlFound.length > 0) return jsonlFound.map((file) => path.join(dir, file));
  return json.filter((file) => fs.existsSync(path.join(dir, file))).map((file) => path.join(dir, file));
}

/**
 * Finds and loads every split file in `dir`: JSON Lines (train.jsonl, train_summaries_only.jsonl,
 * val.jsonl, test.jsonl, test_goldsack2022.jsonl) or the JSON arrays train.json/val.json/test.json.
 * Throws when the folder contains none of them, or when an id occurs twice within a split.
 */
export function loadCorpus(dir: string): ElifeCorpus {
  if (!fs.existsSync(dir)) {
    throw new Error(`eLife corpus folder not found: ${dir}. Run \`lora-lab data fetch\`, copy the JSON/JSONL split files there, or set ELIFE_DIR.`);
  }
  const splits: Partial<Record<SplitName, CorpusSplit>> = {};

  for (const name of SPLIT_NAMES) {
    const files = splitFilesIn(dir, name).map((file) => loadSplitFile(file));
    if (files.length === 0) continue;

    const counts = emptyCounts();
    files.forEach((result) => addCounts(counts, result.counts));
    const articles = files.flatMap((result) => result.articles);
    const seen = new Map<string, string>();
    for (const result of files) {
      for (const article of result.articles) {
        const earlier = seen.get(article.id);
        if (earlier) throw new Error(`${path.join(dir, result.file)}: id ${article.id} occurs twice in split ${name} (also in ${earlier}). Remove the duplicate record.`);
        seen.set(article.id, result.file);
      }
    }
    splits[name] = {
      name,
      files,
      articles,
      pairs: articles.filter(isPair),
      issues: files.flatMap((result) => result.issues),
      counts,
    };
  }

  if (Object.keys(splits).length === 0) {
    throw new Error(
      `No eLife split files in ${dir}. Expected train.jsonl/val.jsonl/test.jsonl (or train.json/val.json/test.json). ` +
        'Run `lora-lab data fetch`, copy the files into data/elife/, or set ELIFE_DIR to a folder that holds them.',
    );
  }
  return { dir, splits };
}

/** Returns a split or throws an error that names the folder and the files it needs. */
export function requireSplit(corpus: ElifeCorpus, name: SplitName): CorpusSplit {
  const split = corpus.splits[name];
  if (!split) {
    const expected = [...SPLIT_FILES[name].jsonl, ...SPLIT_FILES[name].json].join(' or ');
    throw new Error(`Split ${name} not found in ${corpus.dir}: expected ${expected}. Copy the file there or set ELIFE_DIR.`);
  }
  return split;
}

/** Lists one row per loaded file: records read, kept, skipped, complete pairs, missing fields. */
export function corpusCountRows(corpus: ElifeCorpus): CorpusCountRow[] {
  const rows: CorpusCountRow[] = [];
  for (const name of SPLIT_NAMES) {
    for (const result of corpus.splits[name]?.files ?? []) rows.push({ split: name, file: result.file, ...result.counts });
  }
  return rows;
}

function findProjectRoot(start: string): string | null {
  let dir = start;
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest)) {
      try {
        if ((JSON.parse(fs.readFileSync(manifest, 'utf8')) as { name?: string }).name === 'lora-lab') return dir;
      } catch {
        // An unreadable package.json belongs to some other project; keep walking up.
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

/**
 * Finds the corpus folder: ELIFE_DIR if set, else data/elife/ in the project when it contains split
 * files, else data/elife in the shared reference folder (LORA_LAB_SHARED, or ../shared beside the
 * checkout). Throws with the three options when none exists.
 */
export function resolveCorpusDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.ELIFE_DIR) return path.resolve(env.ELIFE_DIR);

  const root = findProjectRoot(__dirname) ?? process.cwd();
  const local = path.join(root, 'data', 'elife');
  const hasSplitFiles = (dir: string): boolean => SPLIT_NAMES.some((name) => splitFilesIn(dir, name).length > 0);
  if (fs.existsSync(local) && hasSplitFiles(local)) return local;

  const sharedRoot = env.LORA_LAB_SHARED ? path.resolve(env.LORA_LAB_SHARED) : path.resolve(root, '..', 'shared');
  const shared = path.join(sharedRoot, 'data', 'elife');
  if (fs.existsSync(shared) && hasSplitFiles(shared)) return shared;

  throw new Error(
    `No eLife corpus found (looked in ${local} and ${shared}). Run \`lora-lab data fetch\`, copy the JSON/JSONL split files into data/elife/, or set ELIFE_DIR.`,
  );
}

import { nativeBindingPath } from '../backend';
import type * as Danfo from 'danfojs-node';

import { type ElifeArticle, type ElifeCorpus, SPLIT_NAMES, type SplitName } from './elife';

export type LengthField = 'abstract' | 'article' | 'summary';

/** Word counts of one article; null where the field is missing (no abstract, no full text). */
export interface ArticleLengths {
  id: string;
  split: SplitName;
  abstract: number | null;
  article: number | null;
  summary: number | null;
}

/** One row of the statistics table: the word-count distribution of one field in one split. */
export interface LengthStatsRow {
  split: SplitName;
  field: LengthField;
  count: number;
  mean: number;
  median: number;
  min: number;
  max: number;
}

/**
 * Words as whitespace-separated tokens of the corpus text. Because the corpus is pre-tokenised,
 * punctuation counts as a word ("yet , the" is 3): the counts are corpus tokens, comparable with
 * other papers that report eLife lengths on the same text, not the words a reader would count.
 */
export function countWords(text: string): number {
  const trimmed = text.trim();
  return trimmed === '' ? 0 : trimmed.split(/\s+/).length;
}

function lengthsOf(article: ElifeArticle, split: SplitName): ArticleLengths {
  const sectionWords = article.sections.reduce((sum, section) => sum + countWords(section.text), 0);
  return {
    id: article.id,
    split,
    abstract: article.abstract === null ? null : countWords(article.abstract),
    article: article.sections.length === 0 ? null : sectionWords,
    summary: article.summary === null ? null : countWords(article.summary),
  };
}

/** Per-article word counts of every loaded split, for histograms and box plots. */
export function articleLengths(corpus: ElifeCorpus): ArticleLengths[] {
  const rows: ArticleLengths[] = [];
  for (const split of SPLIT_NAMES) {
    for (const article of corpus.splits[split]?.articles ?? []) rows.push(lengthsOf(article, split));
  }
  return rows;
}

function median(sorted: number[]): number {
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/**
 * Word-count statistics (count, mean, median, min, max) of abstract, article (sections) and lay
 * summary per split, as plain rows. A field missing from every article of a split has no row.
 */
export function lengthStatsRows(corpus: ElifeCorpus): LengthStatsRow[] {
  const lengths = articleLengths(corpus);
  const rows: LengthStatsRow[] = [];
  for (const split of SPLIT_NAMES) {
    for (const field of ['abstract', 'article', 'summary'] as const) {
      const values = lengths
        .filter((row) => row.split === split && row[field] !== null)
        .map((row) => row[field] as number)
        .sort((a, b) => a - b);
      if (values.length === 0) continue;
      const mean = values.reduce((sum, value) => sum + value, 0) / values.length;
      rows.push({ split, field, count: values.length, mean, median: median(values), min: values[0], max: values[values.length - 1] });
    }
  }
  return rows;
}

let danfo: typeof Danfo | null = null;

/**
 * Loads danfojs-node. danfojs-node requires @tensorflow/tfjs-node, whose native addon is absent
 * where its install script did not run. The pure-JS @tensorflow/tfjs is then used in its place
 * during this one require, as the package.json override of danfojs-node intends.
 * The stand-in is removed from the module cache afterwards, so backend selection still finds
 * the real tfjs-node.
 */
export function loadDanfo(): typeof Danfo {
  if (danfo) return danfo;
  if (nativeBindingPath('@tensorflow/tfjs-node')) {
    danfo = require('danfojs-node') as typeof Danfo;
    return danfo;
  }
  // npm dedupes danfojs-node's @tensorflow/tfjs-node onto lora-lab's optional copy, so the
  // package.json override never takes effect, and the stand-in below is needed.
  const tfjsNodePath = require.resolve('@tensorflow/tfjs-node');
  require.cache[tfjsNodePath] = { id: tfjsNodePath, filename: tfjsNodePath, loaded: true, exports: require('@tensorflow/tfjs') } as NodeJS.Module;
  try {
    danfo = require('danfojs-node') as typeof Danfo;
    return danfo;
  } finally {
    delete require.cache[tfjsNodePath];
  }
}

/**
 * Builds the statistics table as a danfo DataFrame (columns split, field, count, mean, median, min,
 * max). `meanDecimals` rounds the mean for display; by default it is kept at full precision.
 */
export function lengthStatsFrame(corpus: ElifeCorpus, options: { meanDecimals?: number } = {}): Danfo.DataFrame {
  const { DataFrame } = loadDanfo();
  const decimals = options.meanDecimals;
  const round = (value: number) => (decimals === undefined ? value : Number(value.toFixed(decimals)));
  return new DataFrame(lengthStatsRows(corpus).map((row) => ({ ...row, mean: round(row.mean) })));
}

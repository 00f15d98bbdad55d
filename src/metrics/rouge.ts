import { rougeTokenize } from './tokenize';

/**
 * ROUGE as Google's rouge_score 0.1.2 computes it (`RougeScorer.score(target, prediction)`):
 * clipped n-gram overlap for rouge1 and rouge2, the longest common subsequence (LCS) for rougeL,
 * and the summary-level union LCS over sentences for rougeLsum. Empty text scores 0.
 */

export interface RougeScore {
  precision: number;
  recall: number;
  fmeasure: number;
}

export const ROUGE_TYPES = ['rouge1', 'rouge2', 'rougeL', 'rougeLsum'] as const;
export type RougeType = (typeof ROUGE_TYPES)[number];
export type RougeScores = Record<RougeType, RougeScore>;

export interface RougeOptions {
  /** Porter-stem tokens longer than 3 characters (rouge_score's use_stemmer). Default true. */
  useStemmer?: boolean;
  /**
   * Splits a text into sentences for rougeLsum. Default: split on "\n", as rouge_score does
   * without split_summaries. Empty strings are dropped afterwards either way.
   */
  splitSentences?: (text: string) => string[];
  /** Shared stem cache; pass one Map across many calls to stem each distinct word once. */
  stemCache?: Map<string, string>;
}

const ZERO: RougeScore = { precision: 0, recall: 0, fmeasure: 0 };

function fmeasure(precision: number, recall: number): number {
  return precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
}

function score(hits: number, targetCount: number, predictionCount: number): RougeScore {
  const precision = hits / Math.max(predictionCount, 1);
  const recall = hits / Math.max(targetCount, 1);
  return { precision, recall, fmeasure: fmeasure(precision, recall) };
}

function ngramCounts(tokens: string[], n: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i + n <= tokens.length; i++) {
    const key = n === 1 ? tokens[i] : tokens.slice(i, i + n).join(' ');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** Clipped overlap: each n-gram counts min(target count, prediction count) times. */
export function ngramScore(targetTokens: string[], predictionTokens: string[], n: number): RougeScore {
  const target = ngramCounts(targetTokens, n);
  const prediction = ngramCounts(predictionTokens, n);
  let hits = 0;
  let targetTotal = 0;
  let predictionTotal = 0;
  for (const [gram, count] of target) {
    hits += Math.min(count, prediction.get(gram) ?? 0);
    targetTotal += count;
  }
  for (const count of prediction.values()) predictionTotal += count;
  return score(hits, targetTotal, predictionTotal);
}

/** LCS length in O(n) memory (two rows). */
export function lcsLength(a: string[], b: string[]): number {
  if (a.length === 0 || b.length === 0) return 0;
  let previous = new Int32Array(b.length + 1);
  let current = new Int32Array(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    const ai = a[i - 1];
    for (let j = 1; j <= b.length; j++) {
      current[j] = ai === b[j - 1] ? previous[j - 1] + 1 : Math.max(previous[j], current[j - 1]);
    }
    [previous, current] = [current, previous];
  }
  return previous[b.length];
}

export function lcsScore(targetTokens: string[], predictionTokens: string[]): RougeScore {
  if (targetTokens.length === 0 || predictionTokens.length === 0) return { ...ZERO };
  const length = lcsLength(targetTokens, predictionTokens);
  return score(length, targetTokens.length, predictionTokens.length);
}

/**
 * Indices into `ref` of one LCS with `can`, chosen by rouge_score's backtrack: take the diagonal
 * on equal tokens, else move left when table[i][j-1] > table[i-1][j], else move up. The union
 * in rougeLsum depends on this exact choice among equally long LCSs.
 */
function lcsIndices(ref: string[], can: string[]): number[] {
  const cols = can.length + 1;
  const table = new Int32Array((ref.length + 1) * cols);
  for (let i = 1; i <= ref.length; i++) {
    for (let j = 1; j <= can.length; j++) {
      table[i * cols + j] =
        ref[i - 1] === can[j - 1]
          ? table[(i - 1) * cols + j - 1] + 1
          : Math.max(table[(i - 1) * cols + j], table[i * cols + j - 1]);
    }
  }
  const indices: number[] = [];
  let i = ref.length;
  let j = can.length;
  while (i > 0 && j > 0) {
    if (ref[i - 1] === can[j - 1]) {
      indices.push(i - 1);
      i--;
      j--;
    } else if (table[i * cols + j - 1] > table[(i - 1) * cols + j]) {
      j--;
    } else {
      i--;
    }
  }
  return indices.reverse();
}

/**
 * Computes the summary-level LCS score as rouge_score's _summary_level_lcs. Each reference
 * sentence contributes the union of its LCS positions with every candidate sentence. A union
 * token is a hit only while both texts still have an unused occurrence of it, so no token counts twice.
 */
export function summaryLevelLcsScore(targetSentences: string[][], predictionSentences: string[][]): RougeScore {
  if (targetSentences.length === 0 || predictionSentences.length === 0) return { ...ZERO };
  const m = targetSentences.reduce((sum, s) => sum + s.length, 0);
  const n = predictionSentences.reduce((sum, s) => sum + s.length, 0);
  if (m === 0 || n === 0) return { ...ZERO };

  const targetCounts = new Map<string, number>();
  const predictionCounts = new Map<string, number>();
  for (const sentence of targetSentences) for (const t of sentence) targetCounts.set(t, (targetCounts.get(t) ?? 0) + 1);
  for (const sentence of predictionSentences) for (const t of sentence) predictionCounts.set(t, (predictionCounts.get(t) ?? 0) + 1);

  let hits = 0;
  for (const ref of targetSentences) {
    const union = new Set<number>();
    for (const can of predictionSentences) for (const index of lcsIndices(ref, can)) union.add(index);
    for (const index of [...union].sort((a, b) => a - b)) {
      const token = ref[index];
      const inPrediction = predictionCounts.get(token) ?? 0;
      const inTarget = targetCounts.get(token) ?? 0;
      if (inPrediction > 0 && inTarget > 0) {
        hits++;
        predictionCounts.set(token, inPrediction - 1);
        targetCounts.set(token, inTarget - 1);
      }
    }
  }
  const precision = hits / n;
  const recall = hits / m;
  return { precision, recall, fmeasure: fmeasure(precision, recall) };
}

export function splitOnNewlines(text: string): string[] {
  return text.split('\n');
}

/**
 * Scores `prediction` against `target` (the reference), in rouge_score's argument order:
 * precision is relative to the prediction's length, recall to the target's.
 */
export function rougeScores(target: string, prediction: string, options: RougeOptions = {}): RougeScores {
  const useStemmer = options.useStemmer ?? true;
  const split = options.splitSentences ?? splitOnNewlines;
  const cache = options.stemCache;

  const targetTokens = rougeTokenize(target, useStemmer, cache);
  const predictionTokens = rougeTokenize(prediction, useStemmer, cache);
  const sentences = (text: string): string[][] =>
    split(text)
      .filter((sentence) => sentence.length > 0)
      .map((sentence) => rougeTokenize(sentence, useStemmer, cache));

  return {
    rouge1: ngramScore(targetTokens, predictionTokens, 1),
    rouge2: ngramScore(targetTokens, predictionTokens, 2),
    rougeL: lcsScore(targetTokens, predictionTokens),
    rougeLsum: summaryLevelLcsScore(sentences(target), sentences(prediction)),
  };
}

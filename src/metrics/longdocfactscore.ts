import { splitSentencesPunktLike } from './sentences';

/**
 * LongDocFACTScore (Bishop et al., LREC-COLING 2024), with the sentence encoder and the
 * conditional scorer as pluggable interfaces. The reference implementation (the authors'
 * ldfacts.py) uses sentence-transformers "bert-base-nli-mean-tokens" and BARTScore with
 * facebook/bart-large. For each summary sentence:
 * 1. rank the source sentences by cosine similarity of their embeddings to the summary sentence;
 * 2. for each of the top 3, take a two-sentence window: the match and the sentence before it,
 *    or sentences 0 and 1 when the match is the first sentence;
 * 3. score the summary sentence given each window and keep the maximum.
 * The document score is the mean over summary sentences.
 */

/** Sentence embeddings, e.g. a sentence-transformers model. */
export interface SentenceEncoder {
  encode(sentences: string[]): Promise<number[][]>;
}

/** Score of each target given its source, e.g. BARTScore: mean token log-likelihood (higher is better). */
export interface ConditionalScorer {
  score(sources: string[], targets: string[]): Promise<number[]>;
}

export interface LongDocFactScoreOptions {
  encoder: SentenceEncoder;
  scorer: ConditionalScorer;
  /** Number of most similar source sentences tried per summary sentence. Default 3. */
  topK?: number;
  /** Sentence splitter for source and summary. Default: the Punkt imitation used for rougeLsum. */
  splitSentences?: (text: string) => string[];
}

function cosine(a: number[], b: number[]): number {
  let dotProduct = 0;
  let normA = 0;
  let normB = 0;
  for (let i = 0; i < a.length; i++) {
    dotProduct += a[i] * b[i];
    normA += a[i] * a[i];
    normB += b[i] * b[i];
  }
  return dotProduct / (Math.sqrt(normA) * Math.sqrt(normB));
}

/** Returns the window text around source sentence `index`, as the reference implementation slices it. */
export function sourceWindow(sentences: string[], index: number): string {
  if (index === 0) return sentences.slice(0, 2).join(' ');
  return sentences.slice(index - 1, index + 1).join(' ');
}

/**
 * Scores one summary against its source document. A summary or source without sentences gives
 * NaN, because the reference implementation then takes numpy's mean of an empty list.
 */
export async function longDocFactScore(source: string, summary: string, options: LongDocFactScoreOptions): Promise<number> {
  const split = options.splitSentences ?? splitSentencesPunktLike;
  const topK = options.topK ?? 3;
  const sourceSentences = split(source);
  const summarySentences = split(summary);
  if (sourceSentences.length === 0 || summarySentences.length === 0) return Number.NaN;

  const sourceEmbeddings = await options.encoder.encode(sourceSentences);
  const summaryEmbeddings = await options.encoder.encode(summarySentences);

  let total = 0;
  for (let s = 0; s < summarySentences.length; s++) {
    const ranked = sourceEmbeddings
      .map((embedding, index) => ({ index, similarity: cosine(summaryEmbeddings[s], embedding) }))
      // NOTE: ties keep source order here, but numpy's argsort (quicksort) may order ties differently.
      .sort((a, b) => b.similarity - a.similarity || a.index - b.index)
      .slice(0, topK);
    const windows = ranked.map(({ index }) => sourceWindow(sourceSentences, index));
    const scores = await options.scorer.score(windows, windows.map(() => summarySentences[s]));
    total += Math.max(...scores);
  }
  return total / summarySentences.length;
}

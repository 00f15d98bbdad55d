import { type ElifeArticle, type ElifeCorpus, type ElifePair, requireSplit } from './elife';
import { seededRandom } from '../random';

export interface SplitOptions {
  /** Seed of the shuffle that picks the held-out articles. */
  seed: number;
  /** Number of validation pairs held out for evaluation. */
  size: number;
}

/** The fixed evaluation set and everything tuning may use. */
export interface ExperimentSplits {
  seed: number;
  size: number;
  /** Held-out validation pairs, sorted by id. Save `evalIds` with the run. */
  evalPairs: ElifePair[];
  evalIds: string[];
  /** Train pairs followed by the validation pairs that are not held out. */
  tuningPairs: ElifePair[];
}

function byId(a: { id: string }, b: { id: string }): number {
  if (a.id === b.id) return 0;
  return a.id < b.id ? -1 : 1;
}

/**
 * Picks `size` pairs from `pairs` deterministically: the pairs are sorted by id (so file order does
 * not matter), shuffled with a Fisher–Yates shuffle driven by `seed`, and the first `size` taken.
 * A larger size with the same seed therefore contains the smaller set. Returns them sorted by id.
 */
export function selectEvaluationPairs(pairs: ElifePair[], options: SplitOptions): ElifePair[] {
  const { seed, size } = options;
  if (!Number.isInteger(size) || size < 1) throw new Error(`Evaluation size must be a positive integer, got ${size}.`);
  if (size > pairs.length) throw new Error(`Evaluation size ${size} exceeds the ${pairs.length} validation pairs available; choose at most ${pairs.length}.`);

  const shuffled = [...pairs].sort(byId);
  const random = seededRandom(seed);
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
  }
  return shuffled.slice(0, size).sort(byId);
}

/**
 * Holds out `size` validation pairs for evaluation and returns every other complete pair (train
 * and the rest of val) for tuning.
 */
export function makeSplits(corpus: ElifeCorpus, options: SplitOptions): ExperimentSplits {
  const val = requireSplit(corpus, 'val');
  const evalPairs = selectEvaluationPairs(val.pairs, options);
  const evalIds = new Set(evalPairs.map((pair) => pair.id));
  const trainPairs = corpus.splits.train?.pairs ?? [];
  const tuningPairs = [...trainPairs, ...val.pairs.filter((pair) => !evalIds.has(pair.id))];
  return { seed: options.seed, size: options.size, evalPairs, evalIds: [...evalIds].sort(), tuningPairs };
}

/** A pretraining text with its article id, split and field. */
export interface PretrainingText {
  id: string;
  split: string;
  field: 'abstract' | 'summary' | 'section';
  text: string;
}

export interface PretrainingCorpus {
  texts: PretrainingText[];
  /** Texts left out because they share a sentence with an evaluation article. */
  droppedForOverlap: PretrainingText[];
}

/** Sentences of at least this many words take part in the overlap check; shorter ones ("Introduction .") recur by chance. */
const MIN_OVERLAP_WORDS = 8;

function sentencesOf(text: string): string[] {
  // The pre-tokenised corpus ends sentences with " . ", " ? " or " ! ". A decimal such as "0 . 5" is
  // split as well, which is harmless: both sides of a comparison are split the same way.
  return text
    .split(/ [.?!] /)
    .map((sentence) => sentence.trim().toLowerCase())
    .filter((sentence) => sentence.split(/\s+/).length >= MIN_OVERLAP_WORDS);
}

function articleTexts(article: ElifeArticle, split: string, include: { abstract: boolean; sections: boolean; summary: boolean }): PretrainingText[] {
  const texts: PretrainingText[] = [];
  if (include.abstract && article.abstract) texts.push({ id: article.id, split, field: 'abstract', text: article.abstract });
  if (include.sections) {
    for (const section of article.sections) {
      if (section.text.trim() !== '') texts.push({ id: article.id, split, field: 'section', text: section.text });
    }
  }
  if (include.summary && article.summary) texts.push({ id: article.id, split, field: 'summary', text: article.summary });
  return texts;
}

/**
 * Gathers the text for pretraining the small base model: train articles (abstract, sections,
 * summary, including the summary-only records), validation articles that are not held out, and
 * test abstracts (the 2025 test split has no summaries).
 *
 * No text of an evaluation article reaches the result. Held-out articles are excluded by id. Any
 * other text that shares a sentence of at least 8 words with an evaluation article's abstract,
 * sections or summary goes to `droppedForOverlap`, which catches the same article stored under
 * another id. test_goldsack2022 is left out because its summaries are references for scoring.
 * Text stays pre-tokenised as in the corpus; detokenise it where the caller's model needs prose.
 */
export function pretrainingTexts(corpus: ElifeCorpus, evalIds: Iterable<string>): PretrainingCorpus {
  const heldOut = new Set(evalIds);
  const val = requireSplit(corpus, 'val');
  const evalArticles = val.articles.filter((article) => heldOut.has(article.id));
  const missing = [...heldOut].filter((id) => !evalArticles.some((article) => article.id === id));
  if (missing.length > 0) throw new Error(`Evaluation ids not found in the val split of ${corpus.dir}: ${missing.slice(0, 5).join(', ')}. Use the ids saved with this corpus.`);

  const evalSentences = new Set<string>();
  for (const article of evalArticles) {
    for (const item of articleTexts(article, 'val', { abstract: true, sections: true, summary: true })) {
      for (const sentence of sentencesOf(item.text)) evalSentences.add(sentence);
    }
  }

  const candidates: PretrainingText[] = [];
  for (const article of corpus.splits.train?.articles ?? []) {
    candidates.push(...articleTexts(article, 'train', { abstract: true, sections: true, summary: true }));
  }
  for (const article of val.articles) {
    if (!heldOut.has(article.id)) candidates.push(...articleTexts(article, 'val', { abstract: true, sections: true, summary: true }));
  }
  for (const article of corpus.splits.test?.articles ?? []) {
    candidates.push(...articleTexts(article, 'test', { abstract: true, sections: false, summary: false }));
  }

  const texts: PretrainingText[] = [];
  const droppedForOverlap: PretrainingText[] = [];
  for (const candidate of candidates) {
    const overlaps = sentencesOf(candidate.text).some((sentence) => evalSentences.has(sentence));
    (overlaps ? droppedForOverlap : texts).push(candidate);
  }
  return { texts, droppedForOverlap };
}

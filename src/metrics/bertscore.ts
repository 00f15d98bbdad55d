/**
 * BERTScore (Zhang et al., ICLR 2020) with the contextual encoder as a pluggable interface, as
 * computed by the bert_score package: greedy matching of L2-normalised token embeddings by cosine
 * similarity, optional idf weighting, optional baseline rescaling.
 *
 * - Precision: mean over candidate tokens of the best cosine with any reference token.
 * - Recall: mean over reference tokens of the best cosine with any candidate token.
 * - With idf, each token's term is weighted by idf(token) = ln((M + 1) / (df + 1)), with df the
 *   number of the M reference texts containing the token (unseen tokens: ln(M + 1)), and the
 *   weights of each text are normalised to sum to 1.
 * - F1 = 2PR / (P + R), 0 when P + R = 0. Rescaling maps s to (s - b) / (1 - b) for P, R and F1
 *   with their own baselines b.
 */

/** Contextual embeddings of one text's content tokens, without [CLS]/[SEP]-style special tokens. */
export interface TokenEmbedding {
  /** Token ids or strings, used as idf keys. */
  tokens: string[];
  /** One vector per token, all of the same dimension. */
  vectors: number[][];
}

/** The contextual encoder, e.g. a BERT or RoBERTa layer output. It must drop special tokens. */
export interface TokenEmbedder {
  embed(texts: string[]): Promise<TokenEmbedding[]>;
}

export interface BertScoreResult {
  precision: number;
  recall: number;
  f1: number;
}

export interface IdfWeights {
  weights: Map<string, number>;
  /** Weight of a token absent from every reference: ln(M + 1). */
  unseenWeight: number;
}

export interface BertScoreOptions {
  /** Token weights; omit for uniform weights. */
  idf?: IdfWeights;
  /** Baselines for rescaling (the bert_score baseline files give one per P, R, F). */
  baseline?: BertScoreResult;
}

/** Computes idf weights from the token lists of the reference texts. */
export function computeIdf(referenceTokens: string[][]): IdfWeights {
  const documentFrequency = new Map<string, number>();
  for (const tokens of referenceTokens) {
    for (const token of new Set(tokens)) documentFrequency.set(token, (documentFrequency.get(token) ?? 0) + 1);
  }
  const total = referenceTokens.length;
  const weights = new Map<string, number>();
  for (const [token, frequency] of documentFrequency) weights.set(token, Math.log((total + 1) / (frequency + 1)));
  return { weights, unseenWeight: Math.log(total + 1) };
}

function normalize(vectors: number[][], label: string): Float64Array[] {
  return vectors.map((vector, i) => {
    const norm = Math.hypot(...vector);
    if (norm === 0) throw new Error(`BERTScore: ${label} token ${i} has a zero embedding vector, so its cosine is undefined.`);
    return Float64Array.from(vector, (value) => value / norm);
  });
}

function dot(a: Float64Array, b: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
}

function tokenWeights(tokens: string[], idf: IdfWeights | undefined): number[] {
  const raw = tokens.map((token) => (idf === undefined ? 1 : (idf.weights.get(token) ?? idf.unseenWeight)));
  const sum = raw.reduce((total, weight) => total + weight, 0);
  return raw.map((weight) => weight / sum);
}

function rescale(value: number, baseline: number): number {
  return (value - baseline) / (1 - baseline);
}

/** Scores one candidate against one reference from their token embeddings. */
export function bertScoreFromEmbeddings(candidate: TokenEmbedding, reference: TokenEmbedding, options: BertScoreOptions = {}): BertScoreResult {
  let result: BertScoreResult;
  if (candidate.tokens.length === 0 || reference.tokens.length === 0) {
    result = { precision: 0, recall: 0, f1: 0 };
  } else {
    const candidateVectors = normalize(candidate.vectors, 'candidate');
    const referenceVectors = normalize(reference.vectors, 'reference');
    const bestForCandidate = new Array<number>(candidateVectors.length).fill(-Infinity);
    const bestForReference = new Array<number>(referenceVectors.length).fill(-Infinity);
    for (let i = 0; i < candidateVectors.length; i++) {
      for (let j = 0; j < referenceVectors.length; j++) {
        const similarity = dot(candidateVectors[i], referenceVectors[j]);
        if (similarity > bestForCandidate[i]) bestForCandidate[i] = similarity;
        if (similarity > bestForReference[j]) bestForReference[j] = similarity;
      }
    }

    const candidateWeights = tokenWeights(candidate.tokens, options.idf);
    const referenceWeights = tokenWeights(reference.tokens, options.idf);
    const precision = bestForCandidate.reduce((sum, best, i) => sum + best * candidateWeights[i], 0);
    const recall = bestForReference.reduce((sum, best, j) => sum + best * referenceWeights[j], 0);
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    // An idf weight sum of 0 (every token in every reference) gives NaN, which bert_score maps to 0.
    result = {
      precision: Number.isNaN(precision) ? 0 : precision,
      recall: Number.isNaN(recall) ? 0 : recall,
      f1: Number.isNaN(f1) ? 0 : f1,
    };
  }
  if (options.baseline === undefined) return result;
  return {
    precision: rescale(result.precision, options.baseline.precision),
    recall: rescale(result.recall, options.baseline.recall),
    f1: rescale(result.f1, options.baseline.f1),
  };
}

/**
 * Scores candidates against references pairwise. With `idf: true` the weights come from the
 * references themselves, as bert_score does.
 */
export async function bertScore(
  candidates: string[],
  references: string[],
  options: { embedder: TokenEmbedder; idf?: boolean; baseline?: BertScoreResult },
): Promise<BertScoreResult[]> {
  if (candidates.length !== references.length) {
    throw new Error(`BERTScore needs one reference per candidate: got ${candidates.length} candidates and ${references.length} references.`);
  }
  const candidateEmbeddings = await options.embedder.embed(candidates);
  const referenceEmbeddings = await options.embedder.embed(references);
  const idf = options.idf ? computeIdf(referenceEmbeddings.map((embedding) => embedding.tokens)) : undefined;
  return candidateEmbeddings.map((candidate, i) =>
    bertScoreFromEmbeddings(candidate, referenceEmbeddings[i], { idf, baseline: options.baseline }),
  );
}

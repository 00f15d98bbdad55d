import { test } from 'node:test';
import assert from 'node:assert/strict';

import { bertScore, bertScoreFromEmbeddings, computeIdf, type TokenEmbedder } from '../src/metrics/bertscore';

const TOLERANCE = 1e-12;

function near(actual: number, expected: number, label: string): void {
  assert.ok(Math.abs(actual - expected) <= TOLERANCE, `${label}: ${actual} != ${expected}`);
}

test('bertscore greedy cosine matching', () => {
  // Candidate x = y = [1, 0]; reference u = [1, 0], v = [0, 1] (already unit length).
  // Best matches: x -> u (1), y -> u (1), so P = 1; u -> 1, v -> 0, so R = 0.5; F = 2*0.5/1.5 = 2/3.
  const score = bertScoreFromEmbeddings(
    { tokens: ['x', 'y'], vectors: [[1, 0], [1, 0]] },
    { tokens: ['u', 'v'], vectors: [[1, 0], [0, 1]] },
  );
  near(score.precision, 1, 'P');
  near(score.recall, 0.5, 'R');
  near(score.f1, 2 / 3, 'F');
});

test('bertscore normalises embeddings', () => {
  // Reference [3, 3] normalises to [1, 1]/sqrt(2); both candidate tokens have cosine 1/sqrt(2) with it.
  const score = bertScoreFromEmbeddings({ tokens: ['a', 'b'], vectors: [[2, 0], [0, 5]] }, { tokens: ['c'], vectors: [[3, 3]] });
  near(score.precision, Math.SQRT1_2, 'P');
  near(score.recall, Math.SQRT1_2, 'R');
  near(score.f1, Math.SQRT1_2, 'F');
});

test('bertscore idf weighting', () => {
  // Three references; "u" appears in 1, "v" in 2: idf(u) = ln(4/2), idf(v) = ln(4/3); unseen ln(4).
  const idf = computeIdf([['u', 'v'], ['v'], ['w']]);
  near(idf.weights.get('u')!, Math.log(2), 'idf u');
  near(idf.weights.get('v')!, Math.log(4 / 3), 'idf v');
  near(idf.unseenWeight, Math.log(4), 'idf unseen');
  // Same vectors as the greedy test: R = (ln2 * 1 + ln(4/3) * 0) / (ln2 + ln(4/3)); P = 1 (x, y unseen, both match 1).
  const score = bertScoreFromEmbeddings(
    { tokens: ['x', 'y'], vectors: [[1, 0], [1, 0]] },
    { tokens: ['u', 'v'], vectors: [[1, 0], [0, 1]] },
    { idf },
  );
  const recall = Math.log(2) / (Math.log(2) + Math.log(4 / 3));
  near(score.precision, 1, 'P');
  near(score.recall, recall, 'R');
  near(score.f1, (2 * recall) / (1 + recall), 'F');
});

test('bertscore baseline rescaling', () => {
  // P = 1, R = 0.5, F = 2/3 rescaled with b = 0.5: (s - 0.5) / 0.5 = 1, 0, 1/3.
  const score = bertScoreFromEmbeddings(
    { tokens: ['x', 'y'], vectors: [[1, 0], [1, 0]] },
    { tokens: ['u', 'v'], vectors: [[1, 0], [0, 1]] },
    { baseline: { precision: 0.5, recall: 0.5, f1: 0.5 } },
  );
  near(score.precision, 1, 'P');
  near(score.recall, 0, 'R');
  near(score.f1, 1 / 3, 'F');
});

test('bertscore pluggable embedder', async () => {
  // One-hot embedding per distinct word, so the cosine is 1 for equal words and 0 otherwise:
  // "a b" vs "a c": P = (1 + 0) / 2, R = (1 + 0) / 2, F = 0.5. Empty candidate scores 0.
  const vocabulary = ['a', 'b', 'c'];
  const embedder: TokenEmbedder = {
    embed: async (texts) =>
      texts.map((text) => {
        const tokens = text.split(' ').filter((token) => token !== '');
        return { tokens, vectors: tokens.map((token) => vocabulary.map((word) => (word === token ? 1 : 0))) };
      }),
  };
  const [score, empty] = await bertScore(['a b', ''], ['a c', 'a'], { embedder });
  near(score.f1, 0.5, 'F');
  assert.deepEqual(empty, { precision: 0, recall: 0, f1: 0 });
  await assert.rejects(bertScore(['a'], [], { embedder }), /one reference per candidate/);
});

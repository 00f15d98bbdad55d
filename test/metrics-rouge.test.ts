import { test } from 'node:test';
import assert from 'node:assert/strict';

import { rougeTokenize } from '../src/metrics/tokenize';
import { lcsLength, rougeScores, summaryLevelLcsScore } from '../src/metrics/rouge';
import { splitSentencesPunktLike } from '../src/metrics/sentences';

const TOLERANCE = 1e-12;

function near(actual: number, expected: number, label: string): void {
  assert.ok(Math.abs(actual - expected) <= TOLERANCE, `${label}: ${actual} != ${expected}`);
}

test('rougeTokenize rouge_score rules', () => {
  // Lowercase, non [a-z0-9] to spaces, stem tokens longer than 3 characters only.
  assert.deepEqual(rougeTokenize('The cells were DYING; café β-cell 3.5', false), ['the', 'cells', 'were', 'dying', 'caf', 'cell', '3', '5']);
  assert.deepEqual(rougeTokenize('The cells were DYING; café β-cell 3.5', true), ['the', 'cell', 'were', 'die', 'caf', 'cell', '3', '5']);
  assert.deepEqual(rougeTokenize('', true), []);
});

test('rouge n-gram clipping', () => {
  // Target "the the the cat" (4 unigrams), prediction "the the" (2): clipped hits min(3, 2) = 2,
  // P = 2/2, R = 2/4, F = 2*1*0.5/1.5 = 2/3. Bigrams: target {the the: 2, the cat: 1}, prediction
  // {the the: 1}: hits 1, P = 1/1, R = 1/3, F = 0.5.
  const scores = rougeScores('the the the cat', 'the the');
  near(scores.rouge1.precision, 1, 'rouge1 P');
  near(scores.rouge1.recall, 0.5, 'rouge1 R');
  near(scores.rouge1.fmeasure, 2 / 3, 'rouge1 F');
  near(scores.rouge2.recall, 1 / 3, 'rouge2 R');
  near(scores.rouge2.fmeasure, 0.5, 'rouge2 F');
});

test('rougeL longest common subsequence', () => {
  // LCS("a b c d e", "a c e f") = "a c e", length 3: P = 3/4, R = 3/5, F = 2/3.
  assert.equal(lcsLength(['a', 'b', 'c', 'd', 'e'], ['a', 'c', 'e', 'f']), 3);
  const scores = rougeScores('a b c d e', 'a c e f');
  near(scores.rougeL.precision, 0.75, 'rougeL P');
  near(scores.rougeL.recall, 0.6, 'rougeL R');
  near(scores.rougeL.fmeasure, 2 / 3, 'rougeL F');
});

test('rougeLsum union LCS', () => {
  // Reference sentence r = w1 w2 w3 w4 w5, candidate sentences c1 = w1 w2 w6 w7 w8 and
  // c2 = w1 w3 w8 w9 w5. LCS(r, c1) = w1 w2, LCS(r, c2) = w1 w3 w5; the
  // union is w1 w2 w3 w5, 4 hits. m = 5 reference tokens, n = 10 candidate tokens: R = 4/5, P = 4/10.
  const score = summaryLevelLcsScore(
    [['w1', 'w2', 'w3', 'w4', 'w5']],
    [
      ['w1', 'w2', 'w6', 'w7', 'w8'],
      ['w1', 'w3', 'w8', 'w9', 'w5'],
    ],
  );
  near(score.recall, 0.8, 'Lsum R');
  near(score.precision, 0.4, 'Lsum P');
  near(score.fmeasure, (2 * 0.8 * 0.4) / 1.2, 'Lsum F');
});

test('rougeLsum counts each token once', () => {
  // Reference "a a" in two sentences, candidate "a" once: the union gives "a" in each reference
  // sentence, but the candidate has one "a", so hits = 1: R = 1/2, P = 1/1.
  const scores = rougeScores('a\na', 'a');
  near(scores.rougeLsum.recall, 0.5, 'Lsum R');
  near(scores.rougeLsum.precision, 1, 'Lsum P');
});

test('rouge empty text scores zero', () => {
  for (const [target, prediction] of [['', 'some words'], ['some words', ''], ['', ''], ['...', '!!']]) {
    const scores = rougeScores(target, prediction);
    for (const type of ['rouge1', 'rouge2', 'rougeL', 'rougeLsum'] as const) {
      assert.deepEqual(scores[type], { precision: 0, recall: 0, fmeasure: 0 }, `${type} of ${JSON.stringify([target, prediction])}`);
    }
  }
});

test('rouge argument order swaps precision and recall', () => {
  const forward = rougeScores('the cat sat on the mat', 'the cat sat');
  const backward = rougeScores('the cat sat', 'the cat sat on the mat');
  near(forward.rouge1.precision, backward.rouge1.recall, 'swap P/R');
  near(forward.rouge1.fmeasure, backward.rouge1.fmeasure, 'F symmetric');
});

test('sentence splitter punkt-like rules', () => {
  assert.deepEqual(splitSentencesPunktLike('Cells divide. They grow! Do they? Yes.'), ['Cells divide.', 'They grow!', 'Do they?', 'Yes.']);
  // Abbreviations and initials do not end sentences; the corpus's bare " . " does.
  assert.deepEqual(splitSentencesPunktLike('As shown by Smith et al. in Fig. 2, it works.'), ['As shown by Smith et al. in Fig. 2, it works.']);
  assert.deepEqual(splitSentencesPunktLike('In the C. elegans germline. Next one.'), ['In the C. elegans germline.', 'Next one.']);
  assert.deepEqual(splitSentencesPunktLike('In the C . elegans germline .'), ['In the C .', 'elegans germline .']);
  assert.deepEqual(splitSentencesPunktLike(''), []);
});

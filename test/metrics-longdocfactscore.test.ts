import { test } from 'node:test';
import assert from 'node:assert/strict';

import { type ConditionalScorer, longDocFactScore, type SentenceEncoder, sourceWindow } from '../src/metrics/longdocfactscore';

/** Encodes each sentence by a fixed vector from a table. */
function tableEncoder(table: Record<string, number[]>): SentenceEncoder {
  return { encode: async (sentences) => sentences.map((sentence) => table[sentence]) };
}

test('ldfacts source window slices', () => {
  const sentences = ['S0.', 'S1.', 'S2.', 'S3.'];
  assert.equal(sourceWindow(sentences, 0), 'S0. S1.');
  assert.equal(sourceWindow(sentences, 2), 'S1. S2.');
  assert.equal(sourceWindow(sentences, 3), 'S2. S3.');
  assert.equal(sourceWindow(['Only.'], 0), 'Only.');
});

test('ldfacts max over windows mean over sentences', async () => {
  const encoder = tableEncoder({
    'S0.': [1, 0, 0],
    'S1.': [0, 1, 0],
    'S2.': [0, 0, 1],
    'S3.': [1, 1, 0],
    'H0.': [1, 0, 0],
    'H1.': [0, 0, 1],
  });
  // Cosines for H0 = [1,0,0]: S0 1, S3 0.707, S1 0, S2 0, so the top 3 are S0, S3, S1 (ties by source order).
  // Windows: S0 -> "S0. S1.", S3 -> "S2. S3.", S1 -> "S0. S1.".
  // Cosines for H1 = [0,0,1]: S2 1, then S0, S1, S3 all 0, so S2, S0, S1: windows "S1. S2.", "S0. S1.", "S0. S1.".
  // The scorer returns a value per window; the maximum per summary sentence is kept.
  const values: Record<string, number> = { 'S0. S1.': -2, 'S2. S3.': -1, 'S1. S2.': -3 };
  const calls: string[][] = [];
  const scorer: ConditionalScorer = {
    score: async (sources, targets) => {
      calls.push([...sources, '|', ...targets]);
      return sources.map((source) => values[source]);
    },
  };
  const score = await longDocFactScore('S0. S1. S2. S3.', 'H0. H1.', { encoder, scorer });
  // H0: max(-2, -1, -2) = -1; H1: max(-3, -2, -2) = -2; mean = -1.5.
  assert.equal(score, -1.5);
  assert.deepEqual(calls[0], ['S0. S1.', 'S2. S3.', 'S0. S1.', '|', 'H0.', 'H0.', 'H0.']);
  assert.deepEqual(calls[1], ['S1. S2.', 'S0. S1.', 'S0. S1.', '|', 'H1.', 'H1.', 'H1.']);
});

test('ldfacts empty summary is NaN', async () => {
  const encoder = tableEncoder({ 'S0.': [1] });
  const scorer: ConditionalScorer = { score: async (sources) => sources.map(() => 0) };
  assert.ok(Number.isNaN(await longDocFactScore('S0.', '', { encoder, scorer })));
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';

import { DEFAULT_EN_US_DICTIONARY } from '../src/metrics/hyphenation';
import {
  legacyRound,
  lexiconCount,
  loadReadability,
  removePunctuation,
  sentenceCount,
  textstatSentencePieces,
  type ReadabilityScores,
} from '../src/metrics/readability';

/**
 * Expected values are derived by hand from the textstat 0.7.4 definitions, with
 * lr(x, p) = floor(x * 10^p + copysign(0.5, x)) / 10^p evaluated in IEEE doubles.
 * Syllable counts come from pyphen on hyph_en_US.dic with left=right=2 (the hyphenation test
 * checks that agreement separately): hello [3] -> 2, stopgap [4] -> 2; the, cat, sat, on, mat,
 * dog, ran, to, park, dont, 35, mgkg, βcells, of, café, yes have no break -> 1 each.
 */
const TOLERANCE = 1e-9;

function assertScores(actual: ReadabilityScores, expected: ReadabilityScores, label: string): void {
  for (const key of ['fkgl', 'dcrs', 'cli', 'fre'] as const) {
    assert.ok(Math.abs(actual[key] - expected[key]) <= TOLERANCE, `${label} ${key}: ${actual[key]} != ${expected[key]}`);
  }
}

const hasDictionary = fs.existsSync(DEFAULT_EN_US_DICTIONARY);
const skipReason = hasDictionary ? false : `${DEFAULT_EN_US_DICTIONARY} is missing (apt-get install hyphen-en-us)`;

test('legacyRound textstat rounding', () => {
  assert.equal(legacyRound(12.25, 1), 12.3);
  assert.equal(legacyRound(2.344, 2), 2.34);
  // Negative numbers: floor(-14.5 - 0.5) = -15, and floor(-1580 - 0.5) = -1581.
  assert.equal(legacyRound(-1.45, 1), -1.5);
  assert.equal(legacyRound(-15.8, 2), -15.81);
});

test('textstat word and sentence counting', () => {
  assert.equal(removePunctuation("Don't stop-gap 3.5 mg/kg"), 'Dont stopgap 35 mgkg');
  assert.equal(lexiconCount("Don't stop-gap 3.5 mg/kg β-cells"), 5);
  assert.deepEqual(textstatSentencePieces('Hi there. It is 3.5 cm! Ok'), ['Hi there.', 'It is 3.', '5 cm!', 'Ok']);
  // "It is 3." has 3 words and counts; "Hi there.", "5 cm!" and "Ok" have 2 or fewer and are dropped.
  assert.equal(sentenceCount('Hi there. It is 3.5 cm! Ok'), 1);
  assert.equal(sentenceCount(''), 1);
});

test('readability two short sentences', { skip: skipReason }, async () => {
  const readability = await loadReadability();
  // 12 words, 2 sentences of 6 words, 12 syllables: ASL = 6.0, ASW = 1.0.
  // FRE = lr(206.835 - 1.015*6 - 84.6*1, 2) = 116.15; FKGL = lr(0.39*6 + 11.8 - 15.59, 1) = lr(-1.45, 1) = -1.5.
  // CLI: letters 17 + 18 = 35, lr(35/12, 2) = 2.92 -> 292; lr(2/12, 2) = 0.17 -> 17;
  //      lr(0.058*292 - 0.296*17 - 15.8, 2) = lr(-3.896, 2) = -3.91.
  // DCRS: every word is on the Dale-Chall list, so PDW = 0 and lr(0.0496*6, 2) = 0.30.
  assertScores(
    readability.scores('The cat sat on the mat. The dog ran to the park.'),
    { fkgl: -1.5, dcrs: 0.3, cli: -3.91, fre: 116.15 },
    'two sentences',
  );
});

test('readability text without sentence end', { skip: skipReason }, async () => {
  const readability = await loadReadability();
  // One piece of 6 words: ASL 6.0, ASW 1.0 as above; CLI: lr(17/6, 2) = 2.83 -> 283, lr(1/6, 2) = 0.17 -> 17,
  // lr(0.058*283 - 5.032 - 15.8, 2) = lr(-4.418, 2) = -4.43.
  assertScores(
    readability.scores('The cat sat on the mat'),
    { fkgl: -1.5, dcrs: 0.3, cli: -4.43, fre: 116.15 },
    'no sentence end',
  );
});

test('readability single word', { skip: skipReason }, async () => {
  const readability = await loadReadability();
  // "Hello": 1 word, 1 sentence, 2 syllables: ASL 1.0, ASW 2.0.
  // FKGL = lr(0.39 + 23.6 - 15.59, 1) = 8.4; FRE = lr(206.835 - 1.015 - 169.2, 2) = 36.62;
  // CLI = lr(0.058*500 - 0.296*100 - 15.8, 2) = lr(-16.4, 2) = -16.41; DCRS: "hello" is easy, lr(0.0496, 2) = 0.05.
  assertScores(readability.scores('Hello'), { fkgl: 8.4, dcrs: 0.05, cli: -16.41, fre: 36.62 }, 'single word');
});

test('readability empty text', { skip: skipReason }, async () => {
  const readability = await loadReadability();
  // No words: ASL = 0/1 = 0, ASW = 0 (division by zero caught). FKGL = lr(-15.59, 1) = -15.7,
  // FRE = lr(206.835, 2) = 206.84, CLI = lr(-15.8, 2) = -15.81, DCRS = 0 (division by zero caught).
  assertScores(readability.scores(''), { fkgl: -15.7, dcrs: 0, cli: -15.81, fre: 206.84 }, 'empty');
});

test('readability hyphens apostrophes numbers units', { skip: skipReason }, async () => {
  const readability = await loadReadability();
  const text = "Don't stop-gap 3.5 mg/kg β-cells of the café. Yes.";
  // Words after punctuation removal: Dont stopgap 35 mgkg βcells of the café Yes = 9.
  // Pieces: "Don't stop-gap 3." (3 words), "5 mg/kg β-cells of the café." (6), "Yes." (1, dropped): 2 sentences.
  // Syllables 10 (stopgap 2). ASL = 4.5, ASW = lr(10/9, 1) = 1.1.
  // FKGL = lr(1.755 + 12.98 - 15.59, 1) = lr(-0.855, 1) = -1.0; FRE = lr(206.835 - 4.5675 - 93.06, 2) = 109.21.
  // CLI: letters 4+7+2+4+6+2+3+4+3 = 35, lr(35/9, 2) = 3.89 -> 389; lr(2/9, 2) = 0.22 -> 22;
  //      lr(22.562 - 6.512 - 15.8, 2) = 0.25.
  // DCRS tokens [\w='‘’]+: don't stop gap 3 5 mg kg β cells of the café yes; not easy: gap 3 5 mg kg β cells café = 8.
  //      PDW = 100 - (9 - 8)/9*100 = 88.89 > 5: lr(0.1579*88.89 + 0.0496*4.5 + 3.6365, 2) = 17.9.
  assertScores(readability.scores(text), { fkgl: -1, dcrs: 17.9, cli: 0.25, fre: 109.21 }, 'edge cases');
  assert.equal(readability.syllableCount(text), 10);
  assert.equal(readability.difficultWords(text), 8);
});

test('readability difficult words counted once', { skip: skipReason }, async () => {
  const readability = await loadReadability();
  // "zebrafish" is not on the list; repeated, it still counts once.
  assert.equal(readability.difficultWords('Zebrafish zebrafish ZEBRAFISH swim.'), 1);
});

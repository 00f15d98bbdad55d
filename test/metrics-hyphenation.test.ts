import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';

import { DEFAULT_EN_US_DICTIONARY, HyphenationDictionary } from '../src/metrics/hyphenation';
import { sharedPath } from './helpers/shared';

/** Distinct lowercase words (letters, digits, accents) from the eLife validation summaries. */
function elifeWords(limit: number): string[] {
  const words = new Set<string>();
  const lines = fs.readFileSync(sharedPath('data', 'elife', 'val.jsonl'), 'utf8').split('\n');
  for (const line of lines) {
    if (line.trim() === '') continue;
    const row = JSON.parse(line) as { summary: string; abstract: string };
    for (const word of `${row.summary} ${row.abstract}`.toLowerCase().split(/[^\p{L}\p{N}]+/u)) {
      if (word !== '') words.add(word);
    }
  }
  return [...words].sort().slice(0, limit);
}

/** Positions from Debian's python3-pyphen on the same .dic file, or null when it is missing. */
function pyphenPositions(words: string[]): number[][] | null {
  const script =
    'import sys, json, pyphen\n' +
    `p = pyphen.Pyphen(filename=${JSON.stringify(DEFAULT_EN_US_DICTIONARY)}, left=2, right=2)\n` +
    'print(json.dumps([p.positions(w) for w in json.loads(sys.stdin.read())]))';
  try {
    return JSON.parse(execFileSync('/usr/bin/python3', ['-c', script], { input: JSON.stringify(words), encoding: 'utf8' }));
  } catch {
    return null;
  }
}

test('hyphenation matches pyphen on eLife words', (t) => {
  if (!fs.existsSync(DEFAULT_EN_US_DICTIONARY)) {
    t.skip(`${DEFAULT_EN_US_DICTIONARY} is missing (apt-get install hyphen-en-us)`);
    return;
  }
  const words = elifeWords(6000);
  const expected = pyphenPositions(words);
  if (expected === null) {
    t.skip('Debian python3-pyphen is not installed (apt-get install python3-pyphen)');
    return;
  }
  assert.ok(words.length > 3000, `only ${words.length} distinct words`);
  const dictionary = HyphenationDictionary.load();
  const mismatches = words
    .map((word, i) => ({ word, expected: expected[i], actual: dictionary.positions(word) }))
    .filter((row) => JSON.stringify(row.expected) !== JSON.stringify(row.actual));
  assert.deepEqual(mismatches.slice(0, 20), []);
});

test('hyphenation patterns from text', () => {
  // Two patterns: "1ba" marks a break before "ba", and "n1" a break after "n". In ".banana.",
  // "1ba" gives position 0 and "n1" gives positions 3 and 5. With left=2 and right=2 only
  // 2 <= i <= 6 - 2 remain, which keeps [3].
  const dictionary = new HyphenationDictionary('UTF-8\nLEFTHYPHENMIN 2\n1ba\nn1\n');
  assert.deepEqual(dictionary.positions('banana'), [3]);
  assert.deepEqual(dictionary.positions('banana', 0, 0), [0, 3, 5]);
});

test('hyphenation missing file error', () => {
  assert.throws(() => HyphenationDictionary.load('/nonexistent/hyph_en_US.dic'), /hyphen-en-us/);
});

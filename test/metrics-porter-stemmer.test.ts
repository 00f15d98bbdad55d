import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';

import { porterStem } from '../src/metrics/porter-stemmer';
import { sharedPath } from './helpers/shared';

const DEBIAN_PYTHON = '/usr/bin/python3';

/** Distinct lowercase alphanumeric words from the eLife validation abstracts and summaries. */
function elifeWords(limit: number): string[] {
  const words = new Set<string>();
  const lines = fs.readFileSync(sharedPath('data', 'elife', 'val.jsonl'), 'utf8').split('\n');
  for (const line of lines) {
    if (line.trim() === '') continue;
    const row = JSON.parse(line) as { abstract: string; summary: string };
    for (const word of `${row.abstract} ${row.summary}`.toLowerCase().split(/[^a-z0-9]+/)) {
      if (word !== '') words.add(word);
    }
  }
  return [...words].sort().slice(0, limit);
}

/** Stems from Debian's python3-nltk, or null when it is not installed. */
function nltkStems(words: string[]): string[] | null {
  const script =
    'import sys\nfrom nltk.stem.porter import PorterStemmer\ns = PorterStemmer()\n' +
    'print("\\n".join(s.stem(w) for w in sys.stdin.read().split("\\n")))';
  try {
    const output = execFileSync(DEBIAN_PYTHON, ['-c', script], { input: words.join('\n'), encoding: 'utf8' });
    return output.replace(/\n$/, '').split('\n');
  } catch {
    return null;
  }
}

test('porterStem matches NLTK on eLife words', (t) => {
  const words = elifeWords(6000);
  const expected = nltkStems(words);
  if (expected === null) {
    t.skip('Debian python3-nltk is not installed (apt-get install python3-nltk)');
    return;
  }
  assert.ok(words.length > 3000, `only ${words.length} distinct words`);
  const mismatches = words
    .map((word, i) => ({ word, expected: expected[i], actual: porterStem(word) }))
    .filter((row) => row.expected !== row.actual);
  assert.deepEqual(mismatches.slice(0, 20), []);
});

test('porterStem NLTK extensions', () => {
  // Expected stems from NLTK's documented NLTK_EXTENSIONS rules, which the original algorithm lacks.
  const cases: Array<[string, string]> = [
    ['dies', 'die'],
    ['died', 'die'],
    ['spied', 'spi'],
    ['dying', 'die'],
    ['skies', 'sky'],
    ['news', 'news'],
    ['enjoy', 'enjoy'],
    ['happy', 'happi'],
    ['generously', 'gener'],
    ['is', 'is'],
  ];
  for (const [word, stem] of cases) assert.equal(porterStem(word), stem, word);
});

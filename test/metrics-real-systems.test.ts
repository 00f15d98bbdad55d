import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';

import { DEFAULT_EN_US_DICTIONARY } from '../src/metrics/hyphenation';
import { evaluateRows, type RowMetrics } from '../src/metrics/evaluate';
import { sharedPath } from './helpers/shared';

interface SystemEntry {
  system: string;
  split: string;
  file: string;
  reported_scores?: Record<string, number>;
}

function readJsonl<T>(file: string): T[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as T);
}

function system(name: string, split: string): SystemEntry {
  const systems = JSON.parse(fs.readFileSync(sharedPath('data', 'elife-predictions', 'systems.json'), 'utf8')) as SystemEntry[];
  const entry = systems.find((s) => s.system === name && s.split === split);
  assert.ok(entry?.reported_scores, `${name} on ${split} has no reported scores in systems.json`);
  return entry;
}

function meanOf(scored: RowMetrics[], name: keyof RowMetrics): number {
  return scored.reduce((sum, row) => sum + row[name], 0) / scored.length;
}

function assertNear(actual: number, expected: number, tolerance: number, label: string): void {
  assert.ok(Math.abs(actual - expected) <= tolerance, `${label}: ${actual} vs reported ${expected} (tolerance ${tolerance})`);
}

const skipReason = fs.existsSync(DEFAULT_EN_US_DICTIONARY) ? false : `${DEFAULT_EN_US_DICTIONARY} is missing (apt-get install hyphen-en-us)`;

for (const name of ['bossybeaver-biomistral-5shot', 'bossybeaver-mixtral-8x7b']) {
  test(`${name} reported BioLaySumm scores`, { skip: skipReason }, async () => {
    // These scores come from the BioLaySumm evaluation script: rouge_score 0.1.2 with
    // use_stemmer=True and split_summaries=True, called as score(prediction, reference), means
    // of F1 over the 241 validation rows ("ROUGEL" there is rougeLsum), and textstat readability.
    const entry = system(name, 'val');
    const reported = entry.reported_scores!;
    const references = new Map(
      readJsonl<{ id: string; summary: string }>(sharedPath('data', 'elife', 'val.jsonl')).map((row) => [row.id, row.summary]),
    );
    const predictions = readJsonl<{ id: string; prediction: string }>(sharedPath('data', 'elife-predictions', entry.file));
    const rows = predictions.map((row) => ({ prediction: row.prediction, reference: references.get(row.id)! }));
    const { scored } = await evaluateRows(rows, { biolaysumm: true, bootstrap: { resamples: 1 } });

    // ROUGE-1/2 do not depend on sentence splitting and match to rounding error (about 1e-16);
    // 1e-9 only allows a different summation order.
    assertNear(meanOf(scored, 'rouge1'), reported.ROUGE1, 1e-9, 'ROUGE1');
    assertNear(meanOf(scored, 'rouge2'), reported.ROUGE2, 1e-9, 'ROUGE2');
    // textstat scores are rounded per row, so the means match to rounding error as well.
    assertNear(meanOf(scored, 'fkgl'), reported.FKGL, 1e-9, 'FKGL');
    assertNear(meanOf(scored, 'dcrs'), reported.DCRS, 1e-9, 'DCRS');
    assertNear(meanOf(scored, 'cli'), reported.CLI, 1e-9, 'CLI');
    // rougeLsum depends on NLTK Punkt's sentence breaks, which splitSentencesPunktLike only
    // imitates (measured differences 3e-5 and 7e-5); 2e-4 is about a tenth of a typical
    // difference between two systems here.
    assertNear(meanOf(scored, 'rougeLsum'), reported.ROUGEL, 2e-4, 'ROUGEL (rougeLsum, Punkt)');
  });
}

test('openbiolaysumm BART reported HF evaluate scores', { skip: skipReason }, async () => {
  // Scored by Hugging Face `evaluate`'s rouge (rouge_score with use_stemmer=True on references
  // with one sentence per line). Its BootstrapAggregator reports the median of 1000 unseeded
  // resampled means, not the plain mean. On this system the two differ by at most 0.017 points,
  // so the tolerance is 0.05 points (scores in percent).
  const entry = system('openbiolaysumm-bart-baseline', 'test_goldsack2022');
  const reported = entry.reported_scores!;
  const rows = readJsonl<{ prediction: string; reference: string }>(sharedPath('data', 'elife-predictions', entry.file));
  const { scored } = await evaluateRows(rows, { bootstrap: { resamples: 1 } });
  for (const name of ['rouge1', 'rouge2', 'rougeL', 'rougeLsum'] as const) {
    assertNear(100 * meanOf(scored, name), reported[name], 0.05, name);
  }
});

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { loadCorpus } from '../src/data/elife';
import { articleLengths, countWords, lengthStatsFrame, lengthStatsRows } from '../src/data/stats';
import { sharedPath } from './helpers/shared';

const corpus = loadCorpus(sharedPath('data', 'elife'));

// Reference values: Python 3 on the same files, len(text.split()) per article, statistics.mean/median.
const reference = [
  { split: 'val', field: 'abstract', count: 241, mean: 165.69709543568464, median: 165, min: 76, max: 306 },
  { split: 'val', field: 'summary', count: 241, mean: 389.8755186721992, median: 384, min: 234, max: 672 },
  { split: 'train', field: 'article', count: 50, mean: 8998.64, median: 9124, min: 2868, max: 16015 },
  { split: 'test', field: 'abstract', count: 142, mean: 226.77464788732394, median: 220, min: 83, max: 464 },
];

test('lengthStatsRows match python', () => {
  const rows = lengthStatsRows(corpus);
  for (const expected of reference) {
    const row = rows.find((r) => r.split === expected.split && r.field === expected.field);
    assert.ok(row, `${expected.split}/${expected.field} missing`);
    assert.equal(row.count, expected.count);
    assert.ok(Math.abs(row.mean - expected.mean) < 1e-9, `${expected.split}/${expected.field} mean ${row.mean}`);
    assert.equal(row.median, expected.median);
    assert.equal(row.min, expected.min);
    assert.equal(row.max, expected.max);
  }
  assert.equal(rows.find((r) => r.split === 'test' && r.field === 'summary'), undefined);
});

test('lengthStatsFrame columns', () => {
  const frame = lengthStatsFrame(corpus);
  assert.deepEqual(frame.columns, ['split', 'field', 'count', 'mean', 'median', 'min', 'max']);
  assert.equal(frame.shape[0], lengthStatsRows(corpus).length);
});

test('articleLengths nulls for missing fields', () => {
  const lengths = articleLengths(corpus);
  assert.equal(lengths.length, 50 + 1532 + 241 + 142 + 241);
  const summaryOnly = lengths.find((row) => row.id === 'elife-43944-v1');
  assert.equal(summaryOnly?.abstract, null);
  assert.equal(summaryOnly?.article, null);
  assert.ok((summaryOnly?.summary ?? 0) > 0);
});

test('countWords whitespace tokens', () => {
  assert.equal(countWords(' development , yet  the\tcell '), 5);
  assert.equal(countWords('   '), 0);
});

test('lengthStatsFrame rounds mean', () => {
  const frame = lengthStatsFrame(corpus, { meanDecimals: 1 });
  const means = frame.column('mean').values as number[];
  assert.equal(means[frame.shape[0] - 1], 383.1);
});

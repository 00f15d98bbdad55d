import assert from 'node:assert/strict';
import { test } from 'node:test';

import { loadCorpus } from '../src/data/elife';
import { buildExample } from '../src/data/prompt';
import { makeSplits, pretrainingTexts, selectEvaluationPairs } from '../src/data/splits';
import { sharedPath } from './helpers/shared';

const corpus = loadCorpus(sharedPath('data', 'elife'));
const valPairs = corpus.splits.val!.pairs;

test('selectEvaluationPairs deterministic', () => {
  const first = selectEvaluationPairs(valPairs, { seed: 7, size: 30 }).map((pair) => pair.id);
  const again = selectEvaluationPairs([...valPairs].reverse(), { seed: 7, size: 30 }).map((pair) => pair.id);
  const otherSeed = selectEvaluationPairs(valPairs, { seed: 8, size: 30 }).map((pair) => pair.id);
  assert.deepEqual(again, first);
  assert.notDeepEqual(otherSeed, first);
  assert.equal(new Set(first).size, 30);
  assert.deepEqual(first, [...first].sort());
});

test('selectEvaluationPairs larger size contains smaller', () => {
  const small = selectEvaluationPairs(valPairs, { seed: 3, size: 20 }).map((pair) => pair.id);
  const large = new Set(selectEvaluationPairs(valPairs, { seed: 3, size: 60 }).map((pair) => pair.id));
  assert.ok(small.every((id) => large.has(id)));
});

test('selectEvaluationPairs rejects bad size', () => {
  assert.throws(() => selectEvaluationPairs(valPairs, { seed: 1, size: 242 }), /exceeds the 241 validation pairs/);
  assert.throws(() => selectEvaluationPairs(valPairs, { seed: 1, size: 0 }), /positive integer/);
});

test('makeSplits tuning excludes evaluation', () => {
  const splits = makeSplits(corpus, { seed: 1, size: 40 });
  assert.equal(splits.evalPairs.length, 40);
  assert.equal(splits.tuningPairs.length, 50 + 241 - 40);
  const evalIds = new Set(splits.evalIds);
  assert.ok(splits.tuningPairs.every((pair) => !evalIds.has(pair.id)));
});

test('pretrainingTexts no evaluation text leaks', () => {
  const splits = makeSplits(corpus, { seed: 11, size: 60 });
  const { texts } = pretrainingTexts(corpus, splits.evalIds);
  const evalIds = new Set(splits.evalIds);
  assert.ok(texts.every((item) => !evalIds.has(item.id)));

  // Every evaluation abstract, summary and section must be absent from pretraining and tuning text,
  // checked independently of the splitter: by whole-field substring search over the joined text.
  const pretraining = texts.map((item) => item.text).join('\n');
  const tuning = splits.tuningPairs
    .map((pair) => {
      const example = buildExample(pair);
      return `${pair.abstract}\n${pair.summary}\n${example.prompt}\n${example.target}`;
    })
    .join('\n');
  for (const article of splits.evalPairs) {
    const fields = [article.abstract, article.summary, ...article.sections.map((section) => section.text)];
    for (const field of fields) {
      const probe = field.slice(0, 200);
      assert.ok(!pretraining.includes(probe), `text of ${article.id} found in pretraining text`);
      assert.ok(!tuning.includes(probe), `text of ${article.id} found in tuning pairs`);
      const summaryProbe = buildExample(article).target.slice(0, 200);
      assert.ok(!tuning.includes(summaryProbe), `detokenised summary of ${article.id} found in tuning pairs`);
    }
  }
});

test('pretrainingTexts sources', () => {
  const splits = makeSplits(corpus, { seed: 11, size: 60 });
  const { texts } = pretrainingTexts(corpus, splits.evalIds);
  const count = (split: string, field: string) => texts.filter((item) => item.split === split && item.field === field).length;
  assert.equal(count('train', 'summary'), 50 + 1532);
  assert.equal(count('train', 'abstract'), 50);
  assert.equal(count('val', 'abstract'), 241 - 60);
  assert.equal(count('test', 'abstract'), 142);
  assert.equal(count('test', 'summary'), 0);
  assert.equal(texts.filter((item) => item.split === 'test_goldsack2022').length, 0);
});

test('pretrainingTexts drops copied evaluation text', () => {
  const splits = makeSplits(corpus, { seed: 5, size: 10 });
  const heldOut = splits.evalPairs[0];
  // The same article stored under another id in train must not slip through.
  const copy = { ...heldOut, id: 'elife-copy-v1' };
  const leaky = { ...corpus, splits: { ...corpus.splits, train: { ...corpus.splits.train!, articles: [...corpus.splits.train!.articles, copy] } } };
  const { texts, droppedForOverlap } = pretrainingTexts(leaky, splits.evalIds);
  assert.ok(texts.every((item) => item.id !== 'elife-copy-v1'));
  assert.ok(droppedForOverlap.some((item) => item.id === 'elife-copy-v1' && item.field === 'summary'));
});

test('pretrainingTexts unknown id rejected', () => {
  assert.throws(() => pretrainingTexts(corpus, ['elife-00000-v0']), /not found in the val split/);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { detokenize } from '../src/data/detokenize';
import { loadCorpus } from '../src/data/elife';
import { buildExample, buildPrompt } from '../src/data/prompt';
import { sharedPath } from './helpers/shared';

test('buildPrompt exact WisPerMed text', () => {
  const expected =
    'You will be provided with the abstract of a scientific article. Your task is to write a lay summary that accurately conveys the key findings and significance of the research in non-technical language understandable to a general audience.\n' +
    '\n' +
    'Abstract of the scientific article:\n' +
    'Cells divide.\n' +
    '\n' +
    'Lay summary for this article:\n';
  assert.equal(buildPrompt('Cells divide.'), expected);
});

test('buildPrompt keeps dollar signs', () => {
  assert.ok(buildPrompt("costs $& and $1 per 'sample'").includes("costs $& and $1 per 'sample'"));
});

test('buildPrompt rejects empty abstract', () => {
  assert.throws(() => buildPrompt('  '), /abstract is empty/);
});

test('detokenize corpus patterns', () => {
  const cases: [string, string][] = [
    ['development , yet the', 'development, yet the'],
    ['Polycomb Repressive Complex 2 ( PRC2 ) .', 'Polycomb Repressive Complex 2 (PRC2).'],
    ['C . elegans and D . melanogaster', 'C. elegans and D. melanogaster'],
    ['about 0 . 5 % of cells ; the rest ?', 'about 0.5% of cells; the rest?'],
    ['Fowler et al . , 2015; [ 21 ]', 'Fowler et al., 2015; [21]'],
    ['the cell \'s membrane : lipids !', "the cell's membrane: lipids!"],
    ['ratio 2 : 1', 'ratio 2: 1'],
  ];
  for (const [input, expected] of cases) assert.equal(detokenize(input), expected, input);
});

test('detokenize only removes spaces', () => {
  const corpus = loadCorpus(sharedPath('data', 'elife'));
  for (const pair of corpus.splits.val!.pairs.slice(0, 50)) {
    assert.equal(detokenize(pair.summary).replace(/\s/g, ''), pair.summary.replace(/\s/g, ''), pair.id);
  }
});

test('buildExample fields', () => {
  const corpus = loadCorpus(sharedPath('data', 'elife'));
  const pair = corpus.splits.val!.pairs.find((p) => p.id === 'elife-15477-v3')!;
  const example = buildExample(pair);
  assert.equal(example.id, 'elife-15477-v3');
  assert.equal(example.reference, pair.summary);
  assert.ok(example.prompt.includes('Cell-fate reprograming is at the heart of development, yet'));
  assert.ok(example.prompt.endsWith('Lay summary for this article:\n'));
  assert.equal(example.target, detokenize(pair.summary));
  assert.throws(() => buildExample({ ...pair, abstract: null }), /has no abstract/);
});

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';

import { corpusCountRows, formatIssue, loadCorpus, loadSplitFile, resolveCorpusDir } from '../src/data/elife';
import { sharedPath } from './helpers/shared';

const elifeDir = sharedPath('data', 'elife');

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'lora-lab-elife-'));
}

function readJsonl(file: string): Record<string, unknown>[] {
  return fs
    .readFileSync(path.join(elifeDir, file), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Rewrites a real record in the Goldsack et al. (2022) release layout: sentence lists, sections as sentence lists. */
function toGoldsack(record: Record<string, unknown>): Record<string, unknown> {
  const sentences = (text: string) => text.split(/(?<= \.) /);
  const sections = record.sections as { heading: string; text: string }[];
  return {
    id: record.id,
    year: record.year === null ? null : String(record.year),
    title: record.title,
    sections: sections.map((section) => sentences(section.text)),
    headings: sections.map((section) => section.heading),
    abstract: sentences(record.abstract as string),
    summary: sentences(record.summary as string),
    keywords: record.keywords,
  };
}

test('loadCorpus shared counts', () => {
  // Expected counts: the file table of the corpus README (val 241, test 142, goldsack test 241, train 50 + 1,532).
  const corpus = loadCorpus(elifeDir);
  assert.equal(corpus.splits.val?.counts.pairs, 241);
  assert.equal(corpus.splits.train?.counts.records, 50 + 1532);
  assert.equal(corpus.splits.train?.pairs.length, 50);
  assert.equal(corpus.splits.train?.counts.missingAbstract, 1532);
  assert.equal(corpus.splits.test?.counts.missingSummary, 142);
  assert.equal(corpus.splits.test_goldsack2022?.counts.missingAbstract, 241);
  const rows = corpusCountRows(corpus);
  assert.equal(rows.length, 5);
  assert.ok(rows.every((row) => row.skipped === 0));
});

test('loadCorpus pre-tokenised text kept', () => {
  const corpus = loadCorpus(elifeDir);
  const article = corpus.splits.val?.articles.find((a) => a.id === 'elife-15477-v3');
  assert.ok(article?.abstract?.startsWith('Cell-fate reprograming is at the heart of development , yet'));
  assert.equal(article?.year, 2016);
});

test('loadSplitFile goldsack layout equals jsonl', () => {
  const records = readJsonl('train.jsonl').slice(0, 3);
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'train.json'), JSON.stringify(records.map(toGoldsack)));
  fs.writeFileSync(path.join(dir, 'train.jsonl'), records.map((r) => JSON.stringify(r)).join('\n') + '\n');

  const fromJson = loadSplitFile(path.join(dir, 'train.json'));
  const fromJsonl = loadSplitFile(path.join(dir, 'train.jsonl'));
  assert.equal(fromJson.counts.kept, 3);
  assert.deepEqual(fromJson.issues, []);
  assert.deepEqual(fromJson.articles, fromJsonl.articles);
});

test('loadCorpus finds goldsack json files', () => {
  const dir = tempDir();
  const val = readJsonl('val.jsonl').filter((r) => (r.sections as unknown[]).length > 0).slice(0, 2);
  fs.writeFileSync(path.join(dir, 'val.json'), JSON.stringify(val.map(toGoldsack)));
  const corpus = loadCorpus(dir);
  assert.equal(corpus.splits.val?.pairs.length, 2);
  assert.equal(corpus.splits.train, undefined);
});

test('loadSplitFile reports bad records', () => {
  const [first, second, third] = readJsonl('val.jsonl');
  const lines = [
    JSON.stringify(first),
    '{"id": "elife-truncated", "abstract": "Cut off',
    JSON.stringify({ ...second, keywords: 'genetics' }),
    '',
    JSON.stringify({ ...third, abstract: '   ' }),
  ];
  const dir = tempDir();
  const file = path.join(dir, 'val.jsonl');
  fs.writeFileSync(file, lines.join('\n'));

  const result = loadSplitFile(file);
  assert.deepEqual(result.counts, { records: 4, kept: 2, skipped: 2, pairs: 1, missingAbstract: 1, missingSummary: 0 });
  const described = result.issues.map((issue) => [issue.line, issue.field, issue.severity]);
  assert.deepEqual(described, [
    [2, '(json)', 'skipped'],
    [3, 'keywords', 'skipped'],
    [5, 'abstract', 'incomplete'],
  ]);
  assert.match(formatIssue(result.issues[1]), /^val\.jsonl:3 keywords: /);
  assert.equal(result.articles[1].abstract, null);
});

test('loadSplitFile json array uses index', () => {
  const dir = tempDir();
  const file = path.join(dir, 'test.json');
  const record = toGoldsack(readJsonl('train.jsonl')[0]);
  fs.writeFileSync(file, JSON.stringify([record, { ...record, id: 7 }, { ...record, id: 'x', summary: [] }]));
  const result = loadSplitFile(file);
  assert.deepEqual(result.issues.map((issue) => [issue.line, issue.field, issue.severity]), [
    [1, 'id', 'skipped'],
    [2, 'summary', 'incomplete'],
  ]);
  assert.equal(formatIssue(result.issues[0]).startsWith('test.json[1] id:'), true);
});

test('loadCorpus duplicate id rejected', () => {
  const dir = tempDir();
  const record = JSON.stringify(readJsonl('val.jsonl')[0]);
  fs.writeFileSync(path.join(dir, 'val.jsonl'), `${record}\n${record}\n`);
  assert.throws(() => loadCorpus(dir), /occurs twice in split val/);
});

test('loadCorpus empty folder message', () => {
  assert.throws(() => loadCorpus(tempDir()), /lora-lab data fetch.*ELIFE_DIR/s);
});

test('resolveCorpusDir order', () => {
  assert.equal(resolveCorpusDir({ ELIFE_DIR: '/some/dir' }), '/some/dir');
  const resolved = resolveCorpusDir({ LORA_LAB_SHARED: sharedPath() });
  assert.ok(resolved.endsWith(path.join('data', 'elife')));
});

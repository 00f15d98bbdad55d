import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';

import { loadCorpus } from '../src/data/elife';
import { fetchElife } from '../src/data/fetch';
import { sharedPath } from './helpers/shared';

function realRecords(file: string, count: number): Record<string, unknown>[] {
  return fs
    .readFileSync(sharedPath('data', 'elife', file), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .slice(0, count)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

const trainRecords = realRecords('train.jsonl', 3);
const valRecords = realRecords('val.jsonl', 4);
const jsonl = (records: Record<string, unknown>[]) => Buffer.from(records.map((r) => JSON.stringify(r)).join('\n') + '\n');

/** Real records as BioLaySumm parquet rows: article = abstract, then one line per section. */
async function parquetOf(records: Record<string, unknown>[]): Promise<Buffer> {
  const { parquetWriteBuffer } = await import('hyparquet-writer');
  const sections = (r: Record<string, unknown>) => r.sections as { heading: string; text: string }[];
  const buffer = parquetWriteBuffer({
    columnData: [
      { name: 'article', data: records.map((r) => [r.abstract, ...sections(r).map((s) => s.text)].join('\n')) },
      { name: 'summary', data: records.map((r) => r.summary) },
      { name: 'section_headings', data: records.map((r) => ['Abstract', ...sections(r).map((s) => s.heading)]) },
      { name: 'keywords', data: records.map((r) => r.keywords) },
      { name: 'year', data: records.map((r) => r.year) },
      { name: 'title', data: records.map((r) => r.title) },
    ],
  });
  return Buffer.from(buffer);
}

const files = new Map<string, Buffer>();
const requests: string[] = [];
let server: http.Server;
let baseUrl: string;

before(async () => {
  files.set('/jsonl/train.jsonl', jsonl(trainRecords));
  files.set('/jsonl/val.jsonl', jsonl(valRecords));
  files.set('/goldsack/train.json', Buffer.from(JSON.stringify(trainRecords.map((r) => ({ ...r, abstract: [r.abstract], summary: [r.summary], sections: [] , headings: [] })))));
  files.set('/goldsack/val.json', Buffer.from(JSON.stringify(valRecords.map((r) => ({ ...r, abstract: [r.abstract], summary: [r.summary], sections: [], headings: [] })))));
  files.set('/hf/train-00000-of-00001.parquet', await parquetOf(trainRecords));
  files.set('/hf/validation-00000-of-00001.parquet', await parquetOf(valRecords));
  
  server = http.createServer((request, response) => {
    requests.push(`${request.method} ${request.url}`);
    if (request.url === '/truncated/val.jsonl') {
      // Announce more bytes than are sent, then cut the connection, as a dropped download does.
      response.writeHead(200, { 'content-length': '100000' });
      response.write(jsonl(valRecords).subarray(0, 500));
      setTimeout(() => response.destroy(), 20);
      return;
    }
    const body = files.get(request.url ?? '');
    if (!body) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-length': String(body.length) });
    response.end(request.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => server.close());

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'lora-lab-fetch-'));
}

test('fetchElife jsonl layout', async () => {
  const outDir = tempDir();
  const events: string[] = [];
  const result = await fetchElife({ baseUrl: `${baseUrl}/jsonl`, outDir, onProgress: (event) => events.push(event.kind) });
  assert.equal(result.layout, 'jsonl');
  const status = Object.fromEntries(result.files.map((file) => [file.file, file.status]));
  assert.equal(status['train.jsonl'], 'downloaded');
  assert.equal(status['val.jsonl'], 'downloaded');
  assert.equal(status['test.jsonl'], 'not-on-server');
  assert.ok(events.includes('start'));
  assert.ok(events.includes('end'));
  assert.deepEqual(fs.readFileSync(path.join(outDir, 'val.jsonl')), files.get('/jsonl/val.jsonl'));
  assert.deepEqual(fs.readdirSync(outDir).sort(), ['train.jsonl', 'val.jsonl']);

  const corpus = loadCorpus(outDir);
  assert.equal(corpus.splits.val?.pairs.length, 4);
});

test('fetchElife skips complete files', async () => {
  const outDir = tempDir();
  await fetchElife({ baseUrl: `${baseUrl}/jsonl`, outDir, layout: 'jsonl' });
  requests.length = 0;
  const again = await fetchElife({ baseUrl: `${baseUrl}/jsonl`, outDir, layout: 'jsonl' });
  const status = Object.fromEntries(again.files.map((file) => [file.file, file.status]));
  assert.equal(status['train.jsonl'], 'present');
  assert.equal(status['val.jsonl'], 'present');
  assert.ok(!requests.some((line) => line.endsWith('/train.jsonl') || line.endsWith('/val.jsonl')), requests.join(', '));
});

test('fetchElife goldsack json layout', async () => {
  const outDir = tempDir();
  const result = await fetchElife({ baseUrl: `${baseUrl}/goldsack`, outDir });
  assert.equal(result.layout, 'goldsack-json');
  const corpus = loadCorpus(outDir);
  assert.equal(corpus.splits.train?.pairs.length, 3);
  assert.equal(corpus.splits.val?.articles[0].summary, valRecords[0].summary);
});

test('fetchElife parquet converted to jsonl', async () => {
  const outDir = tempDir();
  const result = await fetchElife({ baseUrl: `${baseUrl}/hf`, outDir });
  assert.equal(result.layout, 'biolaysumm-parquet');
  assert.deepEqual(fs.readdirSync(outDir).sort(), ['train.jsonl', 'val.jsonl']);
  const corpus = loadCorpus(outDir);
  const articles = corpus.splits.train!.articles;
  assert.equal(articles.length, 3);
  trainRecords.forEach((record, index) => {
    const article = articles[index];
    assert.equal(article.id, `biolaysumm2025-elife-train-00${index}`);
    assert.equal(article.abstract, record.abstract);
    assert.equal(article.summary, record.summary);
    assert.deepEqual(article.sections, record.sections);
    assert.deepEqual(article.headings, record.headings);
    assert.deepEqual(article.keywords, record.keywords);
    assert.equal(article.title, record.title);
  });
  assert.equal(corpus.splits.val!.articles[0].year, valRecords[0].year);
});

test('fetchElife missing required file', async () => {
  const outDir = tempDir();
  await assert.rejects(fetchElife({ baseUrl: `${baseUrl}/broken`, outDir, layout: 'jsonl' }), /train\.jsonl failed: HTTP 404/);
});

test('fetchElife invalid content rejected', async () => {
  files.set('/broken/train.jsonl', Buffer.from('this is not json\n{"id": 5}\n'));
  const outDir = tempDir();
  await assert.rejects(fetchElife({ baseUrl: `${baseUrl}/broken`, outDir, layout: 'jsonl' }), /contains no valid eLife record/);
  assert.deepEqual(fs.readdirSync(outDir), []);
});

test('fetchElife truncated download', async () => {
  const outDir = tempDir();
  // Serve train from the good folder's file list so that the truncated val.jsonl is reached.
  files.set('/truncated/train.jsonl', jsonl(trainRecords));
  await assert.rejects(fetchElife({ baseUrl: `${baseUrl}/truncated`, outDir, layout: 'jsonl' }));
  assert.deepEqual(fs.readdirSync(outDir), ['train.jsonl']);
});

test('fetchElife refused connection message', async () => {
  // A port that was just free and is now closed: the connection is refused at once.
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));

  const outDir = tempDir();
  await assert.rejects(fetchElife({ baseUrl: `http://127.0.0.1:${port}/elife`, outDir, layout: 'jsonl' }), (error: Error) => {
    assert.match(error.message, /ECONNREFUSED/);
    assert.match(error.message, /copy the split files/);
    assert.match(error.message, /ELIFE_DIR/);
    assert.match(error.message, /--url or set ELIFE_URL/);
    return true;
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { initBackend } from '../src/backend';
import { LlamaEncoder, loadFactScoreModels } from '../src/metrics/encoders';
import { evaluateFile } from '../src/metrics/evaluate';
import { sharedPath } from './helpers/shared';

const STORIES = sharedPath('models', 'stories260K', 'hf');

test('evaluate file adds model metrics', async () => {
  await initBackend();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lora-lab-evaluate-'));
  const input = path.join(dir, 'in.jsonl');
  const rows = [
    { id: 1, prediction: 'Tom had a red ball.', reference: 'Tom had a red ball.', source: 'Tom had a red ball. He liked it.' },
    { id: 2, prediction: 'The dog ran.', reference: 'A cat slept.', source: 'The dog ran far. It was fast.' },
    { id: 3, prediction: 'No source here.', reference: 'A cat slept.' },
  ];
  fs.writeFileSync(input, rows.map((row) => JSON.stringify(row)).join('\n'));

  const embedder = await LlamaEncoder.fromDir(STORIES, { layer: 4 });
  const fact = await loadFactScoreModels(STORIES, { layer: 4 });
  const { summary, badRows } = await evaluateFile(input, path.join(dir, 'out.jsonl'), path.join(dir, 'summary.json'), {
    bootstrap: { resamples: 50 },
    bertScore: { embedder, info: embedder.info },
    factScore: fact,
  });

  // Row 3 has no source, which LongDocFACTScore needs: it is reported with its line and field.
  assert.deepEqual(
    badRows.map((bad) => [bad.line, bad.field]),
    [[3, 'source']],
  );
  assert.equal(summary.rows, 2);
  const written = fs.readFileSync(path.join(dir, 'out.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
  assert.ok(Math.abs(written[0].metrics.bertscore_f1 - 1) <= 1e-6, `identical pair F1 ${written[0].metrics.bertscore_f1}`);
  assert.ok(written[1].metrics.bertscore_f1 < 0.999);
  assert.equal(typeof written[1].metrics.ldfacts, 'number');

  const saved = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'));
  assert.equal(saved.encoders.bertscore.folder, path.resolve(STORIES));
  assert.equal(saved.encoders.bertscore.layer, 4);
  assert.equal(saved.encoders.bertscore.idf, false);
  assert.equal(saved.encoders.ldfacts.encoder.layer, 4);
  assert.equal(saved.encoders.ldfacts.scorer.method, 'mean log-likelihood of the target given the source');
  assert.equal(saved.metrics.bertscore_f1.n, 2);
  assert.equal(saved.metrics.ldfacts.n, 2);

  embedder.dispose();
  fact.dispose();
  fs.rmSync(dir, { recursive: true });
});

test('evaluate file without models unchanged', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lora-lab-evaluate-'));
  const input = path.join(dir, 'in.jsonl');
  fs.writeFileSync(input, JSON.stringify({ id: 1, prediction: 'a cat', reference: 'a cat' }));
  const { summary } = await evaluateFile(input, path.join(dir, 'out.jsonl'), undefined, { bootstrap: { resamples: 10 } });
  assert.equal(summary.encoders, undefined);
  assert.equal(summary.metrics?.bertscore_f1, undefined);
  fs.rmSync(dir, { recursive: true });
});

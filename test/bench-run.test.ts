import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { formatBenchTable, runBenchModules, timeMedian } from '../bench/run';

function writeModule(dir: string, name: string, source: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, source);
  return file;
}

test('runBenchModules ratios and limits', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lora-lab-bench-'));
  const good = writeModule(
    dir,
    'good.bench.ts',
    `export function runBench() {
      return [
        { name: 'fast', seconds: 0.5, baseline: { name: 'reference', seconds: 2 }, maxRatio: 1 },
        { name: 'slow', seconds: 3, baseline: { name: 'reference', seconds: 2 }, maxRatio: 1.2 },
        { name: 'info', seconds: 1, baseline: { name: 'reference', seconds: 4 }, work: { count: 10, unit: 'summaries' } },
      ];
    }`,
  );
  const missing = writeModule(dir, 'missing.bench.ts', 'export const nothing = 1;');
  const invalid = writeModule(
    dir,
    'invalid.bench.ts',
    `export async function runBench() { return [{ name: 'zero', seconds: 1, baseline: { name: 'b', seconds: 0 } }]; }`,
  );

  const report = await runBenchModules([good, missing, invalid]);
  assert.deepEqual(
    report.records.map((record) => [record.name, record.ratio, record.passed]),
    [
      ['fast', 0.25, true],
      ['slow', 1.5, false],
      ['info', 0.25, true],
    ],
  );
  assert.deepEqual(
    report.failures.map((failure) => failure.module),
    ['missing.bench.ts', 'invalid.bench.ts'],
  );
  assert.match(report.failures[0].error, /does not export a runBench\(\) function/);
  assert.match(report.failures[1].error, /baseline\.seconds must be a positive number, got 0/);

  const table = formatBenchTable(report.records);
  assert.match(table, /fast +reference +0\.250x +<= 1x +pass/);
  assert.match(table, /slow +reference +1\.500x +<= 1\.2x +FAIL/);
  assert.match(table, /10\.0 summaries\/s/);
  fs.rmSync(dir, { recursive: true });
});

test('timeMedian warmup and validation', async () => {
  let calls = 0;
  const seconds = await timeMedian(() => calls++, { repeats: 4, warmup: 2 });
  assert.equal(calls, 6);
  assert.ok(seconds >= 0);
  assert.ok(seconds < 1);
  await assert.rejects(timeMedian(() => 0, { repeats: 0 }), /repeats must be a positive integer, got 0/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Command } from 'commander';
import { registerModelCommands } from '../src/cli/model-commands';
import { sharedPath } from './helpers/shared';

// Per-sequence losses of llama-tiny from the PyTorch reference fixture.
const fixture = sharedPath('fixtures', 'llama-tiny');
const cases = JSON.parse(fs.readFileSync(path.join(fixture, 'cases.json'), 'utf8')) as {
  sequences: { input_ids: number[]; labels: number[] }[];
  expected: { base: { loss: number[] } };
};

async function run(args: string[]): Promise<void> {
  const program = new Command().exitOverride();
  registerModelCommands(program);
  await program.parseAsync(['node', 'lora-lab', ...args]);
}

test('loss command writes row losses', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lora-lab-cli-'));
  const input = path.join(dir, 'rows.jsonl');
  const out = path.join(dir, 'losses.jsonl');
  fs.writeFileSync(input, cases.sequences.map((row) => JSON.stringify(row)).join('\n') + '\n');
  await run(['loss', '--model', fixture, '--input', input, '--out', out, '--batch-size', '2']);
  const rows = fs.readFileSync(out, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { row: number; loss: number; token_count: number });
  assert.equal(rows.length, cases.sequences.length);
  for (const [k, row] of rows.entries()) {
    assert.equal(row.row, k);
    assert.ok(Math.abs(row.loss - cases.expected.base.loss[k]) <= 1e-4 * Math.max(1, cases.expected.base.loss[k]), `row ${k}: ${row.loss}`);
    assert.equal(row.token_count, cases.sequences[k].labels.slice(1).filter((label) => label !== -100).length);
  }
  fs.rmSync(dir, { recursive: true });
});

test('generate command stories260K', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lora-lab-cli-'));
  const out = path.join(dir, 'generated.jsonl');
  await run(['generate', '--model', sharedPath('models', 'stories260K', 'hf'), '--prompt', 'Once upon a time', '--max-new-tokens', '12', '--out', out]);
  const row = JSON.parse(fs.readFileSync(out, 'utf8')) as { completion: string; finish_reason: string };
  // Greedy continuation of the model's best-known opening, as llama2.c's reference sample writes it.
  assert.match(row.completion, /^, there was a little girl named Lily/);
  assert.equal(row.finish_reason, 'length');
  fs.rmSync(dir, { recursive: true });
});

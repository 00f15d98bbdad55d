import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '../src/backend';
import { generate } from '../src/generation/generate';
import { applyRepetitionPenalty, createRng, selectToken } from '../src/generation/sampling';
import { LlamaForCausalLM } from '../src/model/llama';
import { ProgressEvent } from '../src/progress';
import { sharedPath } from './helpers/shared';

const prompt = [1, 92, 3, 36, 76];
let model: LlamaForCausalLM;

before(async () => {
  await initBackend();
  model = await LlamaForCausalLM.fromPretrained(sharedPath('fixtures', 'llama-tiny'));
});
after(() => model.dispose());

test('sampling with seed repeats', async () => {
  const options = { maxNewTokens: 12, doSample: true, temperature: 1.5, eosTokenIds: [], seed: 42 };
  const first = await generate(model, [prompt], options);
  const second = await generate(model, [prompt], options);
  assert.deepEqual(second.newTokens, first.newTokens);
  const other = await generate(model, [prompt], { ...options, seed: 43 });
  assert.notDeepEqual(other.newTokens, first.newTokens);
});

test('sampling row in batch matches alone', async () => {
  const options = { maxNewTokens: 8, doSample: true, topK: 20, topP: 0.95, eosTokenIds: [], seed: 5 };
  const batch = await generate(model, [prompt, [1, 22, 89, 73, 63, 60, 57, 31, 49]], options);
  const alone = await generate(model, [prompt], options);
  assert.deepEqual(batch.newTokens[0], alone.newTokens[0]);
});

test('topK 1 equals greedy', async () => {
  const greedy = await generate(model, [prompt], { maxNewTokens: 8, eosTokenIds: [] });
  const sampled = await generate(model, [prompt], { maxNewTokens: 8, eosTokenIds: [], doSample: true, topK: 1, temperature: 2, seed: 9 });
  assert.deepEqual(sampled.newTokens, greedy.newTokens);
});

test('stop string ends row', async () => {
  const greedy = await generate(model, [prompt], { maxNewTokens: 8, eosTokenIds: [] });
  // A decode that spells ids as "<id>" makes the third new token a stop string.
  const decode = (ids: number[]) => ids.map((id) => `<${id}>`).join('');
  const stopped = await generate(model, [prompt], { maxNewTokens: 8, eosTokenIds: [], stopStrings: [`<${greedy.newTokens[0][2]}>`], decode });
  assert.deepEqual(stopped.newTokens[0], greedy.newTokens[0].slice(0, greedy.newTokens[0].indexOf(greedy.newTokens[0][2]) + 1));
  assert.equal(stopped.finishReasons[0], 'stop_string');
});

test('generate emits progress events', async () => {
  const events: ProgressEvent[] = [];
  await generate(model, [prompt], { maxNewTokens: 3, eosTokenIds: [], onProgress: (event) => events.push(event) });
  assert.deepEqual(events.map((e) => e.kind), ['start', 'update', 'update', 'update', 'end']);
  const end = events[events.length - 1];
  assert.equal(end.kind, 'end');
  const tokensPerSecond = end.kind === 'end' ? (end.metrics?.tokensPerSecond ?? 0) : 0;
  assert.ok(tokensPerSecond > 0, `tokens/s in the end event: ${tokensPerSecond}`);
});

test('generate rejects bad input', async () => {
  await assert.rejects(generate(model, [[]], { maxNewTokens: 2 }), /prompt 0 is empty/);
  await assert.rejects(generate(model, [[1, 500]], { maxNewTokens: 2 }), /token id 500, outside the vocabulary of 97/);
  await assert.rejects(generate(model, [prompt], { maxNewTokens: 2, doSample: true, topP: 0 }), /Invalid topP 0/);
  await assert.rejects(generate(model, [prompt], { maxNewTokens: 2, stopStrings: ['x'] }), /stopStrings need a decode/);
});

test('generate leaves prompts unchanged', async () => {
  const prompts = [prompt.slice(), [1, 2]];
  await generate(model, prompts, { maxNewTokens: 2 });
  assert.deepEqual(prompts, [prompt, [1, 2]]);
});

test('repetition penalty typed-in values', () => {
  const logits = new Float32Array([2, -2, 1, 4]);
  applyRepetitionPenalty(logits, [0, 1, 1], 2);
  assert.deepEqual(Array.from(logits), [1, -4, 1, 4]);
});

test('top-p keeps smallest nucleus', () => {
  // Probabilities ~ [0.643, 0.237, 0.087, 0.032]: topP 0.8 keeps the first two tokens.
  const logits = new Float32Array([3, 2, 1, 0]);
  const seen = new Set<number>();
  const random = createRng(1);
  for (let i = 0; i < 200; i++) seen.add(selectToken(logits, { doSample: true, topP: 0.8 }, random));
  assert.deepEqual([...seen].sort(), [0, 1]);
});

test('createRng is uniform and repeatable', () => {
  const a = createRng(7);
  const b = createRng(7);
  const values = Array.from({ length: 1000 }, () => a());
  assert.deepEqual(Array.from({ length: 1000 }, () => b()), values);
  const mean = values.reduce((x, y) => x + y, 0) / values.length;
  assert.ok(Math.abs(mean - 0.5) < 0.05 && values.every((v) => v >= 0 && v < 1), `mean ${mean}`);
});

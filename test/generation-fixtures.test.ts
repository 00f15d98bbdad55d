import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import { generate } from '../src/generation/generate';
import { LlamaForCausalLM } from '../src/model/llama';
import { causalLmLoss } from '../src/model/loss';
import { sharedPath } from './helpers/shared';

// Expected ids and logits come from the PyTorch reference fixtures and the float64 numpy run of stories260K.

interface GenerationCases {
  generation: { prompt: number[]; max_new_tokens: number };
  expected: { generation: { base: { new_tokens: number[]; sequence: number[] } } };
  generation_eos?: {
    prompt: number[];
    max_new_tokens: number;
    eos_token_id: number[];
    expected: { base: { new_tokens: number[]; sequence: number[]; new_tokens_ignoring_eos: number[] } };
  };
  padded_batch: {
    pad_token_id: number;
    generation: {
      prompts: number[][];
      attention_mask: number[][];
      max_new_tokens: number;
      eos_token_id: number[];
      expected: { base: { sequences: number[][]; new_tokens: number[][] } };
    };
  };
}

for (const name of ['llama-tiny', 'qwen2-tiny', 'llama3-rope-tiny']) {
  const dir = sharedPath('fixtures', name);
  const cases = JSON.parse(fs.readFileSync(`${dir}/cases.json`, 'utf8')) as GenerationCases;

  describe(`${name} generation`, () => {
    let model: LlamaForCausalLM;
    before(async () => {
      await initBackend();
      model = await LlamaForCausalLM.fromPretrained(dir);
    });
    after(() => model.dispose());

    test('greedy with and without cache', async () => {
      const want = cases.expected.generation.base;
      for (const useCache of [true, false]) {
        // The fixture's greedy case ignores EOS, so no stop ids.
        const result = await generate(model, [cases.generation.prompt], { maxNewTokens: cases.generation.max_new_tokens, eosTokenIds: [], useCache });
        assert.deepEqual(result.newTokens[0], want.new_tokens, `useCache=${useCache}`);
        assert.deepEqual(result.sequences[0], want.sequence, `useCache=${useCache}`);
        assert.equal(result.finishReasons[0], 'length');
      }
    });

    test('left-padded batch', async () => {
      const batch = cases.padded_batch.generation;
      for (const useCache of [true, false]) {
        const result = await generate(model, batch.prompts, {
          maxNewTokens: batch.max_new_tokens,
          eosTokenIds: batch.eos_token_id,
          padTokenId: cases.padded_batch.pad_token_id,
          useCache,
        });
        assert.deepEqual(result.sequences, batch.expected.base.sequences, `useCache=${useCache}`);
        assert.deepEqual(result.newTokens, batch.expected.base.new_tokens, `useCache=${useCache}`);
        assert.deepEqual(
          result.attentionMask.map((row) => row.slice(0, batch.attention_mask[0].length)),
          batch.attention_mask,
          `useCache=${useCache}`,
        );
      }
    });

    if (cases.generation_eos) {
      const eosCase = cases.generation_eos;
      test('stops on generation_config eos list', async () => {
        assert.deepEqual(model.config.eosTokenIds, eosCase.eos_token_id);
        const result = await generate(model, [eosCase.prompt], { maxNewTokens: eosCase.max_new_tokens });
        assert.deepEqual(result.newTokens[0], eosCase.expected.base.new_tokens);
        assert.deepEqual(result.sequences[0], eosCase.expected.base.sequence);
        assert.equal(result.finishReasons[0], 'eos');
        const ignoring = await generate(model, [eosCase.prompt], { maxNewTokens: eosCase.max_new_tokens, eosTokenIds: [] });
        assert.deepEqual(ignoring.newTokens[0], eosCase.expected.base.new_tokens_ignoring_eos);
      });
    }
  });
}

describe('stories260K', () => {
  const dir = sharedPath('models', 'stories260K', 'hf');
  const reference = JSON.parse(fs.readFileSync(sharedPath('models', 'stories260K', 'reference_outputs.json'), 'utf8')) as {
    greedy_from_bos: { input_ids: number[]; generated_ids: number[] };
    logits_check: { input_ids: number[]; last_position_logits_first8: number[]; last_position_argmax: number; first_position_logits_first8: number[] };
    mean_nll_on_greedy_sequence_65_tokens: number;
  };
  let model: LlamaForCausalLM;
  before(async () => {
    await initBackend();
    model = await LlamaForCausalLM.fromPretrained(dir);
  });
  after(() => model.dispose());

  test('parameter count', () => {
    assert.equal(model.parameterCount(), 260_032);
  });

  test('logits at two positions', () => {
    const ids = reference.logits_check.input_ids;
    const logits = tf.tidy(() => model.forward(tf.tensor2d([ids], [1, ids.length], 'int32')).arraySync()[0]);
    const last = logits[ids.length - 1];
    for (let i = 0; i < 8; i++) {
      // The reference is rounded to 5 decimals, so the tolerance is 1e-4 absolute (values are below 10).
      assert.ok(Math.abs(last[i] - reference.logits_check.last_position_logits_first8[i]) <= 1e-4, `last[${i}] = ${last[i]}`);
      assert.ok(Math.abs(logits[0][i] - reference.logits_check.first_position_logits_first8[i]) <= 1e-4, `first[${i}] = ${logits[0][i]}`);
    }
    assert.equal(last.indexOf(Math.max(...last)), reference.logits_check.last_position_argmax);
  });

  test('greedy ids and mean nll', async () => {
    const want = reference.greedy_from_bos.generated_ids;
    const result = await generate(model, [reference.greedy_from_bos.input_ids], { maxNewTokens: want.length });
    assert.deepEqual(result.newTokens[0], want);

    const sequence = [...reference.greedy_from_bos.input_ids, ...want];
    const loss = tf.tidy(() => {
      const ids = tf.tensor2d([sequence], [1, sequence.length], 'int32');
      return causalLmLoss(model.forward(ids), ids).dataSync()[0];
    });
    assert.ok(Math.abs(loss - reference.mean_nll_on_greedy_sequence_65_tokens) <= 1e-4, `mean nll ${loss}`);
  });
});

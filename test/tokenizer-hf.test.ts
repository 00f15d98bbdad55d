import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';

import { HfTokenizer } from '../src/tokenizer/hf-tokenizer';
import { sharedPath } from './helpers/shared';

interface BaselineEntry {
  input_ids: number[];
  decoded_with_special: string;
  decoded_skip_special: string;
}

const tokenizersDir = sharedPath('models', 'tokenizers');
const inputs = (JSON.parse(fs.readFileSync(path.join(tokenizersDir, 'conformance', 'inputs.json'), 'utf8')) as { inputs: { id: string; text: string }[] }).inputs;

function baseline(name: string): Record<string, BaselineEntry> {
  return (JSON.parse(fs.readFileSync(path.join(tokenizersDir, 'conformance', 'baselines', `${name}.json`), 'utf8')) as { entries: Record<string, BaselineEntry> }).entries;
}

// Baselines are Python transformers 4.57.1 outputs for the models whose tokenizers these files are.
// The gpt2 baseline was decoded without clean-up, but this copy's tokenizer_config.json (from
// Xenova/distilgpt2) turns clean-up on. So gpt2 decodes with clean-up off, and the others follow their config.
const conformance: [string, string, boolean | undefined][] = [
  ['gpt2', 'openai-community__gpt2', false],
  ['llama2-32k', 'TinyLlama__TinyLlama-1.1B-Chat-v1.0', undefined],
  ['bert-base-uncased', 'BAAI__bge-small-en-v1.5', undefined],
];

for (const [dir, baselineName, cleanUpTokenizationSpaces] of conformance) {
  test(`HfTokenizer ${dir} conformance ids`, async () => {
    const tokenizer = await HfTokenizer.fromDir(path.join(tokenizersDir, dir));
    const entries = baseline(baselineName);
    assert.equal(inputs.length, 30);
    for (const input of inputs) {
      const ids = tokenizer.encode(input.text);
      assert.deepEqual(ids, entries[input.id].input_ids, input.id);
      assert.equal(tokenizer.decode(ids, { skipSpecialTokens: true, cleanUpTokenizationSpaces }), entries[input.id].decoded_skip_special, input.id);
      assert.equal(tokenizer.decode(ids, { cleanUpTokenizationSpaces }), entries[input.id].decoded_with_special, input.id);
    }
  });
}

test('HfTokenizer gpt2 config cleanup', async () => {
  // gpt2's tokenizer_config.json sets clean_up_tokenization_spaces: true, which joins " 's" to "'s".
  const tokenizer = await HfTokenizer.fromDir(path.join(tokenizersDir, 'gpt2'));
  const ids = tokenizer.encode("for 'ship'");
  assert.equal(tokenizer.decode(ids), "for'ship'");
  assert.equal(tokenizer.decode(ids, { cleanUpTokenizationSpaces: false }), "for 'ship'");
});

for (const dir of ['gpt2', 'llama2-32k']) {
  test(`HfTokenizer ${dir} encoded sample`, async () => {
    const tokenizer = await HfTokenizer.fromDir(path.join(tokenizersDir, dir));
    const sample = JSON.parse(fs.readFileSync(path.join(tokenizersDir, dir, 'encoded_sample.json'), 'utf8')) as { text: string; token_ids: number[]; decoded_text: string };
    assert.deepEqual(tokenizer.encode(sample.text), sample.token_ids);
    assert.equal(tokenizer.decode(sample.token_ids, { cleanUpTokenizationSpaces: false }), sample.decoded_text);
  });
}

test('HfTokenizer stories260K expected ids', async () => {
  const dir = sharedPath('models', 'stories260K', 'hf');
  const tokenizer = await HfTokenizer.fromDir(dir);
  const cases = JSON.parse(fs.readFileSync(sharedPath('models', 'stories260K', 'tokenizer_expected_ids.json'), 'utf8')) as { text: string; ids_no_bos: number[] }[];
  assert.equal(cases.length, 10);
  for (const { text, ids_no_bos } of cases) {
    assert.deepEqual(tokenizer.encode(text, { addSpecialTokens: false }), ids_no_bos, text);
    assert.deepEqual(tokenizer.encode(text), [1, ...ids_no_bos], text);
    assert.equal(tokenizer.decode([1, ...ids_no_bos], { skipSpecialTokens: true }), text, text);
  }
});

test('HfTokenizer special token ids', async () => {
  const stories = await HfTokenizer.fromDir(sharedPath('models', 'stories260K', 'hf'));
  assert.equal(stories.bosTokenId, 1);
  assert.deepEqual(stories.eosTokenIds, [2]);
  assert.equal(stories.padTokenId, null);
  assert.equal(stories.vocabSize, 512);

  const gpt2 = await HfTokenizer.fromDir(path.join(tokenizersDir, 'gpt2'));
  assert.equal(gpt2.bosTokenId, 50256);
  assert.deepEqual(gpt2.eosTokenIds, [50256]);
  assert.equal(gpt2.vocabSize, 50257);

  const bert = await HfTokenizer.fromDir(path.join(tokenizersDir, 'bert-base-uncased'));
  assert.equal(bert.padTokenId, 0);
  assert.equal(bert.vocabSize, 30522);
});

test('HfTokenizer chat template', async () => {
  // The Zephyr-style template TinyLlama-1.1B-Chat-v1.0 ships, copied next to the llama tokenizer.json.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lora-lab-chat-'));
  fs.copyFileSync(path.join(tokenizersDir, 'llama2-32k', 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
  const template =
    "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + eos_token }}\n" +
    "{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n" +
    "{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}\n" +
    "{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}";
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ bos_token: '<s>', eos_token: '</s>', chat_template: template }));
  const tokenizer = await HfTokenizer.fromDir(dir);
  const rendered = tokenizer.applyChatTemplate(
    [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Summarise this.' },
    ],
    { addGenerationPrompt: true },
  );
  assert.equal(rendered, '<|system|>\nBe brief.</s>\n<|user|>\nSummarise this.</s>\n<|assistant|>\n');

  const gpt2 = await HfTokenizer.fromDir(path.join(tokenizersDir, 'gpt2'));
  assert.throws(() => gpt2.applyChatTemplate([{ role: 'user', content: 'x' }]), /no chat_template/);
});

test('HfTokenizer missing folder message', async () => {
  await assert.rejects(HfTokenizer.fromDir(path.join(os.tmpdir(), 'no-such-tokenizer')), /tokenizer\.json not found/);
});

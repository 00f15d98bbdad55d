import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import { LlamaForCausalLM } from '../src/model/llama';

// TinyLlama 1.1B's config.json: 1,100,048,384 parameters, 4.10 GiB as float32.
const tinyLlamaConfig = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  vocab_size: 32000,
  hidden_size: 2048,
  intermediate_size: 5632,
  num_hidden_layers: 22,
  num_attention_heads: 32,
  num_key_value_heads: 4,
  max_position_embeddings: 2048,
  rms_norm_eps: 1e-5,
  rope_theta: 10000.0,
  tie_word_embeddings: false,
  bos_token_id: 1,
  eos_token_id: 2,
};

test('fromPretrained rejects weights past wasm heap', async (t) => {
  await initBackend();
  if (tf.getBackend() !== 'wasm') {
    t.skip(`the backend is ${tf.getBackend()}, which has no 4 GiB heap`);
    return;
  }
  // No weights file: the size check has to come before any tensor is read.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lora-lab-heap-'));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(tinyLlamaConfig));
  await assert.rejects(() => LlamaForCausalLM.fromPretrained(dir), /the weights take 4\.10 GiB as float32, more than the 4 GiB heap of the wasm backend/);
});

test('fromPretrained passes sizes under heap', async () => {
  await initBackend();
  // Below the limit, the same folder gets as far as looking for weights.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lora-lab-heap-'));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...tinyLlamaConfig, num_hidden_layers: 2 }));
  await assert.rejects(() => LlamaForCausalLM.fromPretrained(dir), /No weights in .*: expected model\.safetensors or model\.safetensors\.index\.json/);
});

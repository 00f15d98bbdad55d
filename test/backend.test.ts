import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend, describeBackend } from '../src/backend';

test('initBackend picks a working backend', async () => {
  const info = await initBackend();
  assert.equal(tf.getBackend(), info.name);
  const sum = tf.tidy(() => tf.add(tf.tensor1d([1, 2]), tf.tensor1d([3, 4])).arraySync());
  assert.deepEqual(sum, [4, 6]);
  assert.match(describeBackend(info), /TensorFlow.js backend: /);
});

test('initBackend rejects an unknown forced backend', async () => {
  await assert.rejects(() => initBackend('nonsense'), /Invalid LORA_LAB_BACKEND "nonsense"/);
});

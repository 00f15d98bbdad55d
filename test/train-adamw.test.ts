import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import { AdamW, clipByGlobalNorm, warmupCosineLearningRate } from '../src/train/adamw';

function close(actual: number, expected: number, tolerance: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: got ${actual}, expected ${expected} ± ${tolerance}`);
}

test('AdamW two steps match hand computation', async () => {
  await initBackend();
  // Hand computation with torch.optim.AdamW's rule, lr 0.1, wd 0.01, betas 0.9/0.999, eps 1e-8:
  // step 1, g = 0.5, p0 = 1:   p = 1·(1 − 0.001) = 0.999; m = 0.05, v = 0.00025;
  //   m̂ = 0.5, v̂ = 0.25, update = 0.1 · 0.5 / (0.5 + 1e-8) = 0.1 → p1 = 0.899 (to 1e-8).
  // step 2, g = −1:   p = 0.899·0.999 = 0.898101; m = 0.045 − 0.1 = −0.055; v = 0.00024975 + 0.001 = 0.00124975;
  //   m̂ = −0.055 / 0.19 = −0.289473684; v̂ = 0.00124975 / 0.001999 = 0.625187594;
  //   update = 0.1 · −0.289473684 / 0.790688 = −0.036610 → p2 = 0.934711.
  const p = tf.variable(tf.scalar(1));
  const optimizer = new AdamW({ learningRate: 0.1, weightDecay: 0.01 });
  optimizer.applyGradients([p], [tf.scalar(0.5)]);
  close(p.dataSync()[0], 0.899, 1e-6, 'after step 1');
  optimizer.applyGradients([p], [tf.scalar(-1)]);
  close(p.dataSync()[0], 0.934711, 2e-6, 'after step 2');
  assert.equal(optimizer.step, 2);
  optimizer.dispose();
  p.dispose();
});

test('AdamW state export and import resume identically', async () => {
  await initBackend();
  const grads = [tf.tensor1d([0.3, -0.2]), tf.tensor1d([-0.1, 0.4]), tf.tensor1d([0.05, 0.05])];
  const straight = tf.variable(tf.tensor1d([1, 2]));
  const first = new AdamW({ learningRate: 0.01 });
  for (const g of grads) first.applyGradients([straight], [g]);

  const resumed = tf.variable(tf.tensor1d([1, 2]));
  const before = new AdamW({ learningRate: 0.01 });
  before.applyGradients([resumed], [grads[0]]);
  before.applyGradients([resumed], [grads[1]]);
  const state = await before.exportState([resumed]);
  const after = new AdamW({ learningRate: 0.01 });
  after.importState([resumed], state);
  after.applyGradients([resumed], [grads[2]]);
  assert.deepEqual(Array.from(resumed.dataSync()), Array.from(straight.dataSync()));
  [first, before, after].forEach((o) => o.dispose());
});

test('clipByGlobalNorm matches torch rule', async () => {
  await initBackend();
  // Global norm of [3, 4] and [12] is 13; max 1.3 gives coefficient 1.3 / (13 + 1e-6).
  const { grads, norm } = clipByGlobalNorm([tf.tensor1d([3, 4]), tf.tensor1d([12])], 1.3);
  close(norm, 13, 1e-5, 'norm');
  const coefficient = 1.3 / (13 + 1e-6);
  close(grads[0].dataSync()[1], 4 * coefficient, 1e-6, 'clipped value');
  const unclipped = clipByGlobalNorm([tf.tensor1d([0.3, 0.4])], 1);
  close(unclipped.grads[0].dataSync()[0], 0.3, 1e-7, 'unclipped value');
});

test('warmupCosineLearningRate schedule endpoints', () => {
  const options = { peak: 1e-3, warmupSteps: 10, totalSteps: 110, minRatio: 0.1 };
  close(warmupCosineLearningRate(0, options), 1e-4, 1e-12, 'first warm-up step');
  close(warmupCosineLearningRate(9, options), 1e-3, 1e-12, 'last warm-up step');
  close(warmupCosineLearningRate(60, options), 1e-3 * (0.1 + 0.9 * 0.5), 1e-12, 'half-way');
  close(warmupCosineLearningRate(110, options), 1e-4, 1e-12, 'end');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { bootstrapMeanInterval, pairedBootstrapTest, quantileSorted, seededRandom } from '../src/metrics/bootstrap';

test('bootstrap constant data zero width', () => {
  const interval = bootstrapMeanInterval(new Array(50).fill(0.4), { seed: 3 });
  assert.ok(Math.abs(interval.mean - 0.4) < 1e-12);
  assert.ok(Math.abs(interval.low - 0.4) < 1e-12);
  assert.ok(Math.abs(interval.high - 0.4) < 1e-12);
});

test('bootstrap interval contains mean', () => {
  const random = seededRandom(11);
  const values = Array.from({ length: 200 }, () => random());
  const interval = bootstrapMeanInterval(values, { seed: 1 });
  assert.ok(interval.low < interval.mean);
  assert.ok(interval.mean < interval.high);
  // Uniform(0,1) has standard deviation 0.2887, so the 95% interval half-width is near
  // 1.96 * 0.2887 / sqrt(200) = 0.040; allow 0.03 to 0.05.
  const halfWidth = (interval.high - interval.low) / 2;
  assert.ok(halfWidth > 0.03, `half-width ${halfWidth}`);
  assert.ok(halfWidth < 0.05, `half-width ${halfWidth}`);
});

test('bootstrap seed repeatability', () => {
  const values = [0.1, 0.5, 0.3, 0.9, 0.2, 0.7];
  assert.deepEqual(bootstrapMeanInterval(values, { seed: 42 }), bootstrapMeanInterval(values, { seed: 42 }));
  assert.notDeepEqual(bootstrapMeanInterval(values, { seed: 42 }), bootstrapMeanInterval(values, { seed: 43 }));
});

test('paired test detects known shift', () => {
  const random = seededRandom(5);
  const b = Array.from({ length: 100 }, () => random());
  const a = b.map((value) => value + 0.05 + (random() - 0.5) * 0.02);
  const result = pairedBootstrapTest(a, b, { seed: 9 });
  // Differences are 0.05 + U(-0.01, 0.01): mean near 0.05 and every resample far from 0.
  assert.ok(Math.abs(result.meanDifference - 0.05) < 0.003, `difference ${result.meanDifference}`);
  assert.ok(result.low > 0.04, `low ${result.low}`);
  assert.ok(result.high < 0.06, `high ${result.high}`);
  assert.ok(Math.abs(result.pValue - 1 / 1001) < 1e-12, `p ${result.pValue}`);
});

test('paired test identical systems', () => {
  const values = [0.3, 0.6, 0.1, 0.8];
  const result = pairedBootstrapTest(values, values);
  // All differences are 0, so |d* - 0| >= |0| holds for every resample and p = 1.
  assert.equal(result.meanDifference, 0);
  assert.equal(result.pValue, 1);
});

test('paired test rejects mismatched lengths', () => {
  assert.throws(() => pairedBootstrapTest([1, 2], [1]), /same examples/);
  assert.throws(() => bootstrapMeanInterval([]), /no values/);
});

test('quantileSorted linear interpolation', () => {
  // numpy.quantile([1, 2, 3, 4], 0.25) = 1 + 0.75 * (2 - 1) = 1.75.
  assert.equal(quantileSorted([1, 2, 3, 4], 0.25), 1.75);
  assert.equal(quantileSorted([1, 2, 3, 4], 1), 4);
});

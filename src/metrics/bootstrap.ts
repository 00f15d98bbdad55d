/**
 * Bootstrap uncertainty for per-example metric scores: a percentile confidence interval of a
 * system's mean, and a paired bootstrap test between two systems scored on the same examples.
 * Resampling uses a seeded PRNG, so the same inputs and seed give the same numbers.
 */

import { seededRandom } from '../random';

export { seededRandom };

export interface BootstrapOptions {
  /** Number of bootstrap resamples. Default 1000. */
  resamples?: number;
  /** Confidence level of the percentile interval. Default 0.95. */
  confidence?: number;
  /** PRNG seed. Default 0. */
  seed?: number;
}

export interface MeanInterval {
  mean: number;
  low: number;
  high: number;
  n: number;
}

export interface PairedTestResult {
  /** mean(a) - mean(b). */
  meanDifference: number;
  /** Percentile interval of the resampled mean difference. */
  low: number;
  high: number;
  /** Two-sided p-value for "no difference"; see pairedBootstrapTest. */
  pValue: number;
  n: number;
}

/** Linear-interpolation quantile of sorted values (numpy's default "linear" method). */
export function quantileSorted(sorted: Float64Array | number[], q: number): number {
  const position = (sorted.length - 1) * q;
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  return sorted[lower] + (sorted[upper] - sorted[lower]) * (position - lower);
}

function resolve(options: BootstrapOptions): Required<BootstrapOptions> {
  const resamples = options.resamples ?? 1000;
  const confidence = options.confidence ?? 0.95;
  if (!Number.isInteger(resamples) || resamples < 1) {
    throw new Error(`Invalid bootstrap resamples ${resamples}: expected a positive integer such as 1000.`);
  }
  if (!(confidence > 0 && confidence < 1)) {
    throw new Error(`Invalid bootstrap confidence ${confidence}: expected a level between 0 and 1 such as 0.95.`);
  }
  return { resamples, confidence, seed: options.seed ?? 0 };
}

function mean(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  return sum / values.length;
}

/** Means of `resamples` samples drawn with replacement, sorted ascending. */
function resampledMeans(values: ArrayLike<number>, resamples: number, random: () => number): Float64Array {
  const n = values.length;
  const means = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += values[Math.floor(random() * n)];
    means[r] = sum / n;
  }
  return means.sort();
}

function checkValues(values: ArrayLike<number>, name: string): void {
  if (values.length === 0) throw new Error(`Cannot bootstrap ${name}: no values.`);
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) throw new Error(`Cannot bootstrap ${name}: value ${i} is ${values[i]}, expected a finite number.`);
  }
}

/** Percentile bootstrap interval of the mean of `values`. */
export function bootstrapMeanInterval(values: ArrayLike<number>, options: BootstrapOptions = {}): MeanInterval {
  checkValues(values, 'the mean');
  const { resamples, confidence, seed } = resolve(options);
  const means = resampledMeans(values, resamples, seededRandom(seed));
  const alpha = 1 - confidence;
  return {
    mean: mean(values),
    low: quantileSorted(means, alpha / 2),
    high: quantileSorted(means, 1 - alpha / 2),
    n: values.length,
  };
}

/**
 * Tests mean(a) - mean(b) over the same examples with a paired bootstrap. The example indices
 * are resampled together, so per-example difficulty cancels. The two-sided p-value uses the
 * resampled mean differences d* centred on the observed d as the null distribution:
 * p = (1 + #{|d* - d| >= |d|}) / (1 + resamples), so it is never 0.
 */
export function pairedBootstrapTest(a: ArrayLike<number>, b: ArrayLike<number>, options: BootstrapOptions = {}): PairedTestResult {
  if (a.length !== b.length) {
    throw new Error(`Paired bootstrap needs scores on the same examples: got ${a.length} and ${b.length} values.`);
  }
  checkValues(a, 'system a');
  checkValues(b, 'system b');
  const { resamples, confidence, seed } = resolve(options);

  const differences = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) differences[i] = a[i] - b[i];
  const observed = mean(differences);
  const means = resampledMeans(differences, resamples, seededRandom(seed));

  let extreme = 0;
  for (const resampled of means) if (Math.abs(resampled - observed) >= Math.abs(observed)) extreme++;
  const alpha = 1 - confidence;
  return {
    meanDifference: observed,
    low: quantileSorted(means, alpha / 2),
    high: quantileSorted(means, 1 - alpha / 2),
    pValue: (1 + extreme) / (1 + resamples),
    n: a.length,
  };
}

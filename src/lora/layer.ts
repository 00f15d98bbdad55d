import * as tf from '@tensorflow/tfjs';
import { Linear, LinearLayer } from '../model/linear';
import { matMul } from '../model/matmul';
import { LoraInit } from './config';

/**
 * A frozen Linear with a trainable low-rank update, as PEFT defines it:
 *
 *   y = W x + b + scaling · B(A(dropout(x)))      A: [r, in], B: [out, r]
 *
 * B starts at zero, so a fresh adapter leaves the model's outputs exactly unchanged.
 * merge() folds scaling·B·A into W for inference; unmerge() takes it out again.
 */
export class LoraLinear implements LinearLayer {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly loraA: tf.Variable;
  readonly loraB: tf.Variable;
  /** Module path, e.g. "model.layers.0.self_attn.q_proj". */
  readonly path: string;
  private mergedState = false;
  /** When false the layer computes the base output only, like PEFT's disable_adapter(). */
  enabled = true;
  private dropoutCalls = 0;
  private readonly dropoutSeed: number;

  constructor(
    readonly base: Linear,
    readonly r: number,
    readonly scaling: number,
    readonly dropout: number,
    options: { init: LoraInit; seed: number; path: string },
  ) {
    this.inFeatures = base.inFeatures;
    this.outFeatures = base.outFeatures;
    // Variables stay unnamed: tfjs rejects a second variable with the same name, and tests load one adapter many times.
    this.loraA = tf.variable(initialA(r, base.inFeatures, options.init, options.seed), true);
    this.loraB = tf.variable(tf.zeros([base.outFeatures, r]), true);
    this.dropoutSeed = options.seed;
    this.path = options.path;
  }

  /**
   * Sets the dropout mask counter. trainLoop calls this with the step number before each step, so a
   * run resumed from a checkpoint draws the same masks as one that never stopped.
   */
  setDropoutStep(step: number): void {
    this.dropoutCalls = step;
  }

  get merged(): boolean {
    return this.mergedState;
  }

  apply(x: tf.Tensor, training = false): tf.Tensor {
    return tf.tidy(() => {
      const baseOut = this.base.apply(x, training);
      if (this.mergedState || !this.enabled) return baseOut;
      const leading = x.shape.slice(0, -1);
      let input = x.reshape([-1, this.inFeatures]); // (N, in)
      if (training && this.dropout > 0) {
        // A new seed per call keeps masks different across steps yet repeatable across runs.
        input = tf.dropout(input, this.dropout, undefined, this.dropoutSeed * 1_000_003 + this.dropoutCalls++);
      }
      const down = matMul(input, this.loraA, false, true); // (N, r)
      const up = matMul(down, this.loraB, false, true); // (N, out)
      return baseOut.add(up.mul(this.scaling).reshape([...leading, this.outFeatures]));
    });
  }

  /** ΔW = scaling · B·A, [out, in]. */
  deltaWeight(): tf.Tensor2D {
    return tf.tidy(() => tf.matMul(this.loraB, this.loraA).mul(this.scaling) as tf.Tensor2D);
  }

  /** W' = W + scaling·B·A. Outputs stay the same (to float32 rounding) and the adapter costs nothing at inference. */
  merge(): void {
    if (this.mergedState) return;
    if (!this.enabled) throw new Error(`${this.path}: cannot merge a disabled adapter; enable it first.`);
    const merged = tf.tidy(() => this.base.weight.add(this.deltaWeight()));
    this.base.weight.assign(merged);
    merged.dispose();
    this.mergedState = true;
  }

  /** W = W' − scaling·B·A: restores the base weight (to float32 rounding) so the adapter can train or be removed. */
  unmerge(): void {
    if (!this.mergedState) return;
    const restored = tf.tidy(() => this.base.weight.sub(this.deltaWeight()));
    this.base.weight.assign(restored);
    restored.dispose();
    this.mergedState = false;
  }

  /** Frees only the adapter's tensors; the base layer belongs to the model. */
  dispose(): void {
    this.loraA.dispose();
    this.loraB.dispose();
  }
}

/**
 * A's starting values. PEFT calls kaiming_uniform_(A, a=sqrt(5)) on A stored [r, in], so
 * fan_in = in and the bound is gain·sqrt(3/fan_in) with gain = sqrt(2/(1+5)), i.e. 1/sqrt(in).
 * "gaussian" is PEFT's normal(0, 1/r).
 */
function initialA(r: number, inFeatures: number, init: LoraInit, seed: number): tf.Tensor2D {
  if (init === 'gaussian') return tf.randomNormal([r, inFeatures], 0, 1 / r, 'float32', seed);
  const bound = 1 / Math.sqrt(inFeatures);
  return tf.randomUniform([r, inFeatures], -bound, bound, 'float32', seed);
}

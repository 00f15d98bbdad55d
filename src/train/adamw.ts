import * as tf from '@tensorflow/tfjs';

export interface AdamWOptions {
  learningRate: number;
  beta1?: number;
  beta2?: number;
  /** PyTorch's default, 1e-8. tf.train.adam uses 1e-7, one reason it is not used here. */
  epsilon?: number;
  /** Decoupled weight decay (Loshchilov & Hutter 2019): p ← p − lr·wd·p, separate from the gradient. */
  weightDecay?: number;
}

/** Optimizer state for one variable, for checkpoints. */
export interface AdamWSlotState {
  name: string;
  shape: number[];
  m: Float32Array;
  v: Float32Array;
}

/**
 * AdamW with torch.optim.AdamW's update order and defaults (betas 0.9/0.999, eps 1e-8):
 *
 *   p ← p·(1 − lr·wd)
 *   m ← β1·m + (1−β1)·g          v ← β2·v + (1−β2)·g²
 *   p ← p − lr · (m / (1−β1ᵗ)) / (sqrt(v / (1−β2ᵗ)) + eps)
 *
 * tf.train.adam has no decoupled weight decay and a different epsilon, so it would not match
 * PyTorch training recipes.
 */
export class AdamW {
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly epsilon: number;
  readonly weightDecay: number;
  learningRate: number;
  private stepCount = 0;
  private readonly slots = new Map<tf.Variable, { m: tf.Variable; v: tf.Variable }>();

  constructor(options: AdamWOptions) {
    this.learningRate = options.learningRate;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0.01;
  }

  get step(): number {
    return this.stepCount;
  }

  /** Applies one update. `grads[i]` is the gradient of `variables[i]`; the caller keeps ownership of both. */
  applyGradients(variables: tf.Variable[], grads: tf.Tensor[]): void {
    if (variables.length !== grads.length) throw new Error(`AdamW: ${variables.length} variables but ${grads.length} gradients.`);
    this.stepCount += 1;
    const t = this.stepCount;
    const lr = this.learningRate;
    const biasCorrection1 = 1 - this.beta1 ** t;
    const biasCorrection2 = 1 - this.beta2 ** t;

    variables.forEach((variable, i) => {
      const grad = grads[i];
      const slot = this.slotFor(variable);
      tf.tidy(() => {
        const m = slot.m.mul(this.beta1).add(grad.mul(1 - this.beta1));
        const v = slot.v.mul(this.beta2).add(grad.square().mul(1 - this.beta2));
        slot.m.assign(m);
        slot.v.assign(v);
        const decayed = this.weightDecay > 0 ? variable.mul(1 - lr * this.weightDecay) : variable;
        const denominator = v.div(biasCorrection2).sqrt().add(this.epsilon);
        const update = m.div(biasCorrection1).div(denominator).mul(lr);
        variable.assign(decayed.sub(update));
      });
    });
  }

  private slotFor(variable: tf.Variable): { m: tf.Variable; v: tf.Variable } {
    let slot = this.slots.get(variable);
    if (!slot) {
      slot = { m: tf.variable(tf.zerosLike(variable), false), v: tf.variable(tf.zerosLike(variable), false) };
      this.slots.set(variable, slot);
    }
    return slot;
  }

  /** Moments and step count, for a checkpoint. */
  async exportState(variables: tf.Variable[]): Promise<{ step: number; slots: AdamWSlotState[] }> {
    const slots: AdamWSlotState[] = [];
    for (const variable of variables) {
      const slot = this.slotFor(variable);
      slots.push({
        name: variable.name,
        shape: variable.shape,
        m: (await slot.m.data()) as Float32Array,
        v: (await slot.v.data()) as Float32Array,
      });
    }
    return { step: this.stepCount, slots };
  }

  /** Restores what exportState wrote, matching variables by position and checking names and shapes. */
  importState(variables: tf.Variable[], state: { step: number; slots: AdamWSlotState[] }): void {
    if (state.slots.length !== variables.length) {
      throw new Error(`Optimizer state has ${state.slots.length} slots but ${variables.length} variables are being trained.`);
    }
    variables.forEach((variable, i) => {
      const saved = state.slots[i];
      if (saved.shape.join(',') !== variable.shape.join(',')) {
        throw new Error(`Optimizer state for ${saved.name} has shape [${saved.shape}] but the variable has [${variable.shape}].`);
      }
      const slot = this.slotFor(variable);
      tf.tidy(() => {
        slot.m.assign(tf.tensor(saved.m, variable.shape));
        slot.v.assign(tf.tensor(saved.v, variable.shape));
      });
    });
    this.stepCount = state.step;
  }

  dispose(): void {
    for (const slot of this.slots.values()) {
      slot.m.dispose();
      slot.v.dispose();
    }
    this.slots.clear();
  }
}

/**
 * Scales gradients so their global L2 norm is at most maxNorm, as torch.nn.utils.clip_grad_norm_
 * does (coefficient maxNorm / (norm + 1e-6), applied only when below 1). Returns the new gradients
 * and the norm before clipping; the input gradients are not disposed.
 */
export function clipByGlobalNorm(grads: tf.Tensor[], maxNorm: number): { grads: tf.Tensor[]; norm: number } {
  const norm = tf.tidy(() => tf.sqrt(tf.addN(grads.map((g) => g.square().sum()))).dataSync()[0]);
  const coefficient = maxNorm / (norm + 1e-6);
  if (!(coefficient < 1)) return { grads: grads.map((g) => g.clone()), norm };
  return { grads: grads.map((g) => tf.tidy(() => g.mul(coefficient))), norm };
}

/** Linear warm-up to the peak, then cosine decay to minRatio·peak at totalSteps. */
export function warmupCosineLearningRate(step: number, options: { peak: number; warmupSteps: number; totalSteps: number; minRatio?: number }): number {
  const { peak, warmupSteps, totalSteps } = options;
  const minRatio = options.minRatio ?? 0.1;
  if (warmupSteps > 0 && step < warmupSteps) return (peak * (step + 1)) / warmupSteps;
  const progress = Math.min(1, (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps));
  return peak * (minRatio + (1 - minRatio) * 0.5 * (1 + Math.cos(Math.PI * progress)));
}

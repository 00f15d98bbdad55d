import * as tf from '@tensorflow/tfjs';

/** Label value that marks a position as not scored, as in PyTorch's cross_entropy and Hugging Face. */
export const IGNORE_INDEX = -100;

/**
 * Per-position negative log-likelihood after the causal shift: logits at t are scored against labels at t + 1.
 * Returns nll (B, T-1), zero where the label is IGNORE_INDEX, and the 0/1 weights (B, T-1) of counted positions.
 * The target log-probability is picked with a one-hot product, which is differentiable on every backend.
 */
function shiftedTokenNll(logits: tf.Tensor3D, labels: tf.Tensor2D): { nll: tf.Tensor2D; counted: tf.Tensor2D } {
  const [B, T, V] = logits.shape;
  if (labels.shape[0] !== B || labels.shape[1] !== T) {
    throw new Error(`Loss: labels have shape [${labels.shape.join(', ')}], expected [${B}, ${T}] to match the logits.`);
  }
  const shiftedLogits = logits.slice([0, 0, 0], [B, T - 1, V]); // (B, T-1, V)
  const shiftedLabels = labels.slice([0, 1], [B, T - 1]).toInt(); // (B, T-1)
  const counted = tf.notEqual(shiftedLabels, IGNORE_INDEX).toFloat() as tf.Tensor2D;
  const targets = tf.where(tf.equal(shiftedLabels, IGNORE_INDEX), tf.zerosLike(shiftedLabels), shiftedLabels);
  const logProbs = tf.logSoftmax(shiftedLogits, -1);
  const targetLogProbs = tf.sum(tf.mul(logProbs, tf.oneHot(targets, V).toFloat()), -1); // (B, T-1)
  return { nll: tf.neg(targetLogProbs).mul(counted) as tf.Tensor2D, counted };
}

/**
 * Hugging Face's causal-LM loss: cross entropy of logits[:, :-1] against labels[:, 1:], IGNORE_INDEX skipped,
 * mean over every counted token of the batch (not a mean of per-row means). Differentiable.
 * A batch without counted tokens gives 0 (PyTorch gives NaN).
 */
export function causalLmLoss(logits: tf.Tensor3D, labels: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const { nll, counted } = shiftedTokenNll(logits, labels);
    return tf.sum(nll).div(tf.maximum(tf.sum(counted), 1)) as tf.Scalar;
  });
}

export interface SequenceLosses {
  /** Mean loss of each row over its counted tokens; NaN for a row without any. */
  losses: number[];
  /** Number of counted (scored) tokens per row. */
  tokenCounts: number[];
}

/** Per-row mean causal-LM loss and token counts, with the same shift and IGNORE_INDEX rule as causalLmLoss. */
export async function sequenceLosses(logits: tf.Tensor3D, labels: tf.Tensor2D): Promise<SequenceLosses> {
  const [sums, counts] = tf.tidy(() => {
    const { nll, counted } = shiftedTokenNll(logits, labels);
    return [tf.sum(nll, 1), tf.sum(counted, 1)];
  });
  const [sumValues, countValues] = [await sums.data(), await counts.data()];
  sums.dispose();
  counts.dispose();
  const tokenCounts = Array.from(countValues as Float32Array, (c) => Math.round(c));
  return { losses: tokenCounts.map((count, i) => (count > 0 ? sumValues[i] / count : NaN)), tokenCounts };
}

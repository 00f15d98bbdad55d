import * as tf from '@tensorflow/tfjs';
import { matMul } from './matmul';

/**
 * Looks up rows of `weight` (V, C) for integer `ids` of any shape, returning (...ids.shape, C).
 * The gradient with respect to the table is onehot(ids)^T dy, built from ops every backend has, because
 * tf.gather's own gradient needs UnsortedSegmentSum, which the wasm backend lacks.
 */
export function embeddingLookup(weight: tf.Tensor, ids: tf.Tensor): tf.Tensor {
  if (weight.rank !== 2) throw new Error(`embeddingLookup: weight must be 2-D [vocab, hidden], got [${weight.shape.join(', ')}].`);
  const [vocabSize, channels] = weight.shape as [number, number];
  return tf.tidy(() => {
    const flatIds = ids.reshape([-1]).toInt(); // (N)
    // tf.customGrad types its function as variadic, hence the cast of the (table, save) pair.
    const lookup = tf.customGrad(((table: tf.Tensor, save: tf.GradSaveFunc) => {
      save([flatIds]);
      return {
        value: tf.gather(table, flatIds), // (N, C)
        // NOTE: the one-hot matrix is (N, V); for a 150k vocabulary and long batches that is a large temporary.
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => matMul(tf.oneHot(saved[0], vocabSize).toFloat(), dy, true, false), // (V, C)
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0]);
    return lookup(weight).reshape([...ids.shape, channels]);
  });
}

import * as tf from '@tensorflow/tfjs';
import { matMul, unstackFirstAxis, wasmWorkaround } from './matmul';

/**
 * softmax(q·kᵀ·scale + bias)·v with grouped-query attention: query head h reads kv head
 * floor(h / (H / Hkv)), as transformers' repeat_kv does.
 *
 * q: (B, H, T, D), k and v: (B, Hkv, S, D), bias: (B or 1, 1, T, S) additive (0 or a large negative
 * finite value). Returns (B, H, T, D).
 *
 * Native backends run it as two batched products. On wasm, batched products and slices are slow
 * (see matmul.ts): slicing the (B, H, T, S) score tensor costs more than the products themselves.
 * So the wasm path slices only the small q, k and v and runs each (batch, head) as 2-D products.
 */
export function groupedQueryAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, bias: tf.Tensor4D, scale: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [B, H, T, D] = q.shape;
    const [, Hkv, S] = k.shape;
    const rep = H / Hkv;
    if (tf.getBackend() !== 'wasm' || !wasmWorkaround.enabled) {
      // Grouping the rep query heads of each kv head into the row axis lets one batched matmul serve them without copying k and v.
      const qGrouped = q.reshape([B, Hkv, rep * T, D]); // (B, Hkv, rep*T, D)
      const scores = tf.matMul(qGrouped, k, false, true).mul(scale).reshape([B, H, T, S]).add(bias); // (B, H, T, S)
      const probs = tf.softmax(scores, -1).reshape([B, Hkv, rep * T, S]);
      return tf.matMul(probs, v).reshape([B, H, T, D]) as tf.Tensor4D; // (B, H, T, D)
    }

    const queries = unstackFirstAxis(q.reshape([B * H, T, D])); // B·H × (T, D)
    const keys = unstackFirstAxis(k.reshape([B * Hkv, S, D])); // B·Hkv × (S, D)
    const values = unstackFirstAxis(v.reshape([B * Hkv, S, D]));
    const biases = unstackFirstAxis(bias.reshape([bias.shape[0], T, S])); // (T, S) each
    const outputs: tf.Tensor[] = [];
    for (let b = 0; b < B; b++) {
      const rowBias = biases[bias.shape[0] === 1 ? 0 : b];
      for (let h = 0; h < H; h++) {
        const kvIndex = b * Hkv + Math.floor(h / rep);
        const scores = matMul(queries[b * H + h], keys[kvIndex], false, true).mul(scale).add(rowBias); // (T, S)
        outputs.push(matMul(tf.softmax(scores, -1), values[kvIndex])); // (T, D)
      }
    }
    return tf.stack(outputs).reshape([B, H, T, D]) as tf.Tensor4D;
  });
}

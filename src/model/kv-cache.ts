import * as tf from '@tensorflow/tfjs';

/**
 * Keys (after RoPE) and values of every decoder layer for the tokens seen so far, each (B, n_kv, S, D).
 * The tensors are kept outside tf.tidy scopes, so the cache lives until dispose().
 */
export class KvCache {
  private readonly keys: (tf.Tensor4D | null)[];
  private readonly values: (tf.Tensor4D | null)[];

  constructor(readonly numLayers: number) {
    this.keys = new Array<tf.Tensor4D | null>(numLayers).fill(null);
    this.values = new Array<tf.Tensor4D | null>(numLayers).fill(null);
  }

  /** Number of cached positions S (pads included). */
  get length(): number {
    return this.keys[0]?.shape[2] ?? 0;
  }

  /** Appends the new keys and values of `layer` and returns the full (B, n_kv, S, D) tensors. */
  append(layer: number, newKeys: tf.Tensor4D, newValues: tf.Tensor4D): { keys: tf.Tensor4D; values: tf.Tensor4D } {
    const oldKeys = this.keys[layer];
    const oldValues = this.values[layer];
    const keys = tf.keep(oldKeys ? tf.concat([oldKeys, newKeys], 2) : newKeys.clone());
    const values = tf.keep(oldValues ? tf.concat([oldValues, newValues], 2) : newValues.clone());
    oldKeys?.dispose();
    oldValues?.dispose();
    this.keys[layer] = keys;
    this.values[layer] = values;
    return { keys, values };
  }

  dispose(): void {
    for (let i = 0; i < this.numLayers; i++) {
      this.keys[i]?.dispose();
      this.values[i]?.dispose();
      this.keys[i] = null;
      this.values[i] = null;
    }
  }
}

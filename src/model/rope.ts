import * as tf from '@tensorflow/tfjs';
import { ModelConfig } from './config';

/**
 * Rotary position embedding in Hugging Face's rotate_half layout: dimension i is rotated together with
 * i + headDim/2, and the cos/sin tables are concat(freqs, freqs).
 */

/**
 * Returns inv_freq[j] = 1 / theta^(2j / headDim) for j < headDim/2, rescaled by the llama3 rule when the config
 * has it. Computed in float64 and rounded to float32; HF computes in float32, which differs by an ulp at most.
 */
export function ropeInvFreq(config: Pick<ModelConfig, 'headDim' | 'ropeTheta' | 'ropeScaling'>): Float32Array {
  const half = config.headDim / 2;
  const invFreq = new Float32Array(half);
  for (let j = 0; j < half; j++) invFreq[j] = 1 / config.ropeTheta ** ((2 * j) / config.headDim);
  const scaling = config.ropeScaling;
  if (!scaling) return invFreq;

  // Llama 3.1: keep high frequencies, divide low ones by factor, blend linearly in between (by wavelength).
  const lowFreqWavelength = scaling.originalMaxPositionEmbeddings / scaling.lowFreqFactor;
  const highFreqWavelength = scaling.originalMaxPositionEmbeddings / scaling.highFreqFactor;
  const scaled = new Float32Array(half);
  for (let j = 0; j < half; j++) {
    const wavelength = (2 * Math.PI) / invFreq[j];
    if (wavelength < highFreqWavelength) {
      scaled[j] = invFreq[j];
    } else if (wavelength > lowFreqWavelength) {
      scaled[j] = invFreq[j] / scaling.factor;
    } else {
      const smooth =
        (scaling.originalMaxPositionEmbeddings / wavelength - scaling.lowFreqFactor) / (scaling.highFreqFactor - scaling.lowFreqFactor);
      scaled[j] = invFreq[j] * ((1 - smooth) / scaling.factor + smooth);
    }
  }
  return scaled;
}

/**
 * cos/sin tables for `positions` (B, T), shaped (B, 1, T, D) to broadcast over heads.
 * The angle is the float32 product position * inv_freq, as in HF.
 */
export function ropeTables(positions: tf.Tensor2D, invFreq: tf.Tensor1D): { cos: tf.Tensor4D; sin: tf.Tensor4D } {
  return tf.tidy(() => {
    const [B, T] = positions.shape;
    const freqs = tf.mul(positions.toFloat().expandDims(2), invFreq.reshape([1, 1, -1])); // (B, T, D/2)
    const angles = tf.concat([freqs, freqs], 2).reshape([B, 1, T, -1]); // (B, 1, T, D)
    return { cos: tf.cos(angles) as tf.Tensor4D, sin: tf.sin(angles) as tf.Tensor4D };
  });
}

/** rotate_half(x) = concat(-x[..., D/2:], x[..., :D/2]) along the last axis. */
function rotateHalf(x: tf.Tensor4D): tf.Tensor4D {
  const [first, second] = tf.split(x, 2, 3);
  return tf.concat([tf.neg(second), first], 3) as tf.Tensor4D;
}

/** x' = x cos + rotate_half(x) sin, for x (B, H, T, D) and tables (B, 1, T, D). */
export function applyRope(x: tf.Tensor4D, cos: tf.Tensor4D, sin: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.add(tf.mul(x, cos), tf.mul(rotateHalf(x), sin)) as tf.Tensor4D);
}

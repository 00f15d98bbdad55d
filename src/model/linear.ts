import * as tf from '@tensorflow/tfjs';
import { matMul } from './matmul';

/**
 * A layer that maps the last axis from inFeatures to outFeatures, the role nn.Linear plays in
 * Hugging Face models. The decoder calls every projection through this interface, so a LoRA
 * wrapper can replace a frozen Linear without the model knowing.
 */
export interface LinearLayer {
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** x: [..., inFeatures] -> [..., outFeatures]. `training` turns dropout on where a layer has it. */
  apply(x: tf.Tensor, training: boolean): tf.Tensor;
  dispose(): void;
}

/** y = x W^T + b, with W stored [out, in] as in PyTorch and safetensors files. */
export class Linear implements LinearLayer {
  readonly inFeatures: number;
  readonly outFeatures: number;
  /**
   * Set while only adapters train (injectLora sets it): the backward pass then skips the weight's
   * gradient, about a third of a training step's work. The forward pass is unchanged.
   */
  frozen = false;

  constructor(
    /** [outFeatures, inFeatures] */
    public weight: tf.Variable,
    /** [outFeatures], or null for a layer without bias. */
    public bias: tf.Variable | null = null,
  ) {
    if (weight.rank !== 2) throw new Error(`Linear weight must be 2-D [out, in], got shape [${weight.shape.join(', ')}]`);
    [this.outFeatures, this.inFeatures] = weight.shape as [number, number];
    if (bias && (bias.rank !== 1 || bias.shape[0] !== this.outFeatures)) {
      throw new Error(`Linear bias must have shape [${this.outFeatures}], got [${bias.shape.join(', ')}]`);
    }
  }

  apply(x: tf.Tensor, _training = false): tf.Tensor {
    return tf.tidy(() => {
      const leading = x.shape.slice(0, -1);
      const flat = x.reshape([-1, this.inFeatures]); // (N, in)
      let y = matMul(flat, this.weight, false, true, { gradientOfB: !this.frozen }); // (N, out)
      if (this.bias) y = y.add(this.bias);
      return y.reshape([...leading, this.outFeatures]);
    });
  }

  dispose(): void {
    this.weight.dispose();
    this.bias?.dispose();
  }
}

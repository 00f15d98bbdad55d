import * as tf from '@tensorflow/tfjs';

/** Switch for the wasm workaround below and in attention.ts; benchmarks turn it off to time the plain kernels. */
export const wasmWorkaround = { enabled: true };

/**
 * Matrix products that stay on the fast kernel of every backend.
 *
 * tfjs-backend-wasm 4.22 runs BatchMatMul through XNNPACK only for a single 2-D product with no
 * transposed operand. A transposed operand or a batch dimension falls back to a slow loop. Measured
 * on 2 CPU cores: 1.6 against 17 GFLOP/s for x·Wᵀ against x·W, and 0.7 against 14 GFLOP/s for a
 * batch of 16 attention products against one. Autodiff of tf.matMul produces exactly those
 * transposed products. So on wasm this op materialises transposes with tf.transpose, splits batches
 * into 2-D products, and defines its gradient with the same rules. Other backends use tf.matMul.
 */
export function matMul(a: tf.Tensor, b: tf.Tensor, transposeA = false, transposeB = false, options: { gradientOfB?: boolean } = {}): tf.Tensor {
  if (tf.getBackend() !== 'wasm' || !wasmWorkaround.enabled) return tf.matMul(a, b, transposeA, transposeB);
  // A frozen weight as b needs no gradient; zeros cost far less than the product that would compute it.
  const gradientOfB = options.gradientOfB ?? true;
  const product = tf.customGrad(((x: tf.Tensor, y: tf.Tensor, save: tf.GradSaveFunc) => {
    save([x, y]);
    return {
      value: plainMatMul(x, y, transposeA, transposeB),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [savedA, savedB] = saved;
        // With C = op(A)·op(B): d op(A) = dC·op(B)ᵀ and d op(B) = op(A)ᵀ·dC; undo op() on the way back.
        const gradA = transposeA ? plainMatMul(savedB, dy, transposeB, true) : plainMatMul(dy, savedB, false, !transposeB);
        if (!gradientOfB) return [gradA, tf.zerosLike(savedB)];
        const gradB = transposeB ? plainMatMul(dy, savedA, true, transposeA) : plainMatMul(savedA, dy, !transposeA, false);
        return [gradA, gradB];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return product(a, b);
}

/** Swaps the last two axes into a new tensor. */
function transposeLast2(x: tf.Tensor): tf.Tensor {
  const axes = x.shape.map((_, i) => i);
  const n = axes.length;
  [axes[n - 2], axes[n - 1]] = [axes[n - 1], axes[n - 2]];
  return tf.transpose(x, axes);
}

/** op(a)·op(b) computed as 2-D products without transposed operands. Shapes follow tf.matMul (equal batch dims). */
function plainMatMul(a: tf.Tensor, b: tf.Tensor, transposeA: boolean, transposeB: boolean): tf.Tensor {
  return tf.tidy(() => {
    if (!transposeA && transposeB && a.rank === 2 && b.rank === 2) {
      const [n, k] = a.shape;
      const m = b.shape[0];
      // a·bᵀ = (b·aᵀ)ᵀ: when a has few rows (decoding one token per sequence), transposing a and the
      // product moves n·(k + m) values instead of the m·k of the weight b.
      if (n * (k + m) < m * k) return tf.transpose(tf.matMul(b, tf.transpose(a)));
    }
    const left = transposeA ? transposeLast2(a) : a;
    const right = transposeB ? transposeLast2(b) : b;
    if (left.rank === 2 && right.rank === 2) return tf.matMul(left, right);
    const batchShape = left.shape.slice(0, -2);
    const [m, k] = left.shape.slice(-2);
    const n = right.shape[right.rank - 1];
    const batch = batchShape.reduce((p, d) => p * d, 1);
    const lefts = unstackFirstAxis(left.reshape([batch, m, k]));
    const rights = unstackFirstAxis(right.reshape([batch, k, n]));
    const products = lefts.map((l, i) => tf.matMul(l, rights[i]));
    return tf.stack(products).reshape([...batchShape, m, n]);
  });
}

/**
 * Splits a tensor along axis 0, like tf.unstack. A single slice is taken with a reshape instead.
 * The reason is that tfjs-core 4.22's Unpack gradient calls tf.stack on its dy, and the tape passes a
 * bare tensor (not a list) when the op has one output, so the backward pass would throw.
 */
export function unstackFirstAxis(x: tf.Tensor): tf.Tensor[] {
  return x.shape[0] === 1 ? [x.reshape(x.shape.slice(1))] : tf.unstack(x);
}

import * as tf from '@tensorflow/tfjs';

import { groupedQueryAttention } from './attention';
import { embeddingLookup } from './embedding';
import type { LlamaForCausalLM } from './llama';
import { applyRope, ropeInvFreq, ropeTables } from './rope';

/**
 * Hidden states of a LlamaForCausalLM for use as contextual embeddings (BERTScore,
 * LongDocFACTScore). The numbering follows transformers' `output_hidden_states`: state 0 is the
 * token embedding, state i the output of decoder block i, and state numHiddenLayers the last
 * block's output after the final RMSNorm, the input of lm_head.
 *
 * The pass below repeats LlamaForCausalLM.forward step by step through the model's public weights
 * and projections (LoRA wrappers included), so forward itself stays unchanged. A test checks that
 * lm_head applied to the last state gives forward's logits.
 */

// Same finite mask value as llama.ts, for the same reason: a fully masked pad row stays NaN-free.
const MASKED_SCORE = -1e9;

export interface HiddenStateOptions {
  /** (B, T) with 1 for real tokens and 0 for pads; positions are cumsum(mask) - 1 as in forward. */
  attentionMask?: tf.Tensor2D;
}

function checkLayer(model: LlamaForCausalLM, layer: number): void {
  const layers = model.config.numHiddenLayers;
  if (!Number.isInteger(layer) || layer < 0 || layer > layers) {
    throw new Error(
      `Hidden state ${layer} does not exist: this model has ${layers} decoder layers, so choose 0 (embeddings) to ${layers} (last layer, after the final norm).`,
    );
  }
}

/** Returns hidden state `layer` (B, T, C) for token ids (B, T), in eval mode. */
export function llamaHiddenState(model: LlamaForCausalLM, inputIds: tf.Tensor2D, layer: number, options: HiddenStateOptions = {}): tf.Tensor3D {
  checkLayer(model, layer);
  const { config } = model;
  const weights = model.namedWeights();
  const linears = model.linearLayers();
  const weight = (name: string): tf.Variable => {
    const variable = weights.get(name);
    if (!variable) throw new Error(`Internal error: weight "${name}" was not loaded.`);
    return variable;
  };
  const project = (modulePath: string, x: tf.Tensor): tf.Tensor => {
    const linear = linears.get(modulePath);
    if (!linear) throw new Error(`Internal error: no projection at "${modulePath}".`);
    return linear.apply(x, false);
  };
  const rmsNorm = (x: tf.Tensor3D, name: string): tf.Tensor3D =>
    x.mul(tf.rsqrt(tf.mean(tf.square(x), -1, true).add(config.rmsNormEps))).mul(weight(name));

  return tf.tidy(() => {
    const [B, T] = inputIds.shape;
    const { attentionMask } = options;
    if (attentionMask && (attentionMask.shape[0] !== B || attentionMask.shape[1] !== T)) {
      throw new Error(`llamaHiddenState: attentionMask has shape [${attentionMask.shape.join(', ')}], expected [${B}, ${T}].`);
    }
    if (config.slidingWindow !== null && T > config.slidingWindow) {
      throw new Error(`llamaHiddenState: ${T} tokens exceed the sliding window of ${config.slidingWindow}, which is not implemented.`);
    }

    const positions = attentionMask
      ? (tf.cumsum(attentionMask.toInt(), 1).sub(1).maximum(0) as tf.Tensor2D)
      : (tf.range(0, T, 1, 'int32').reshape([1, T]) as tf.Tensor2D); // (B|1, T)
    const invFreq = tf.tensor1d(ropeInvFreq(config));
    const { cos, sin } = ropeTables(positions, invFreq); // (B|1, 1, T, D)
    let visible = tf.lessEqual(tf.range(0, T, 1, 'int32').reshape([1, T]), tf.range(0, T, 1, 'int32').reshape([T, 1])).reshape([1, 1, T, T]);
    if (attentionMask) visible = tf.logicalAnd(visible, tf.equal(attentionMask.toInt(), 1).reshape([B, 1, 1, T]));
    const bias = tf.sub(1, visible.toFloat()).mul(MASKED_SCORE) as tf.Tensor4D; // (B|1, 1, T, T)

    const { numAttentionHeads: H, numKeyValueHeads: Hkv, headDim: D } = config;
    const heads = (t: tf.Tensor, n: number) => t.reshape([B, T, n, D]).transpose([0, 2, 1, 3]) as tf.Tensor4D; // (B, n, T, D)

    let x = embeddingLookup(weight('model.embed_tokens.weight'), inputIds) as tf.Tensor3D; // (B, T, C)
    for (let i = 0; i < layer; i++) {
      const prefix = `model.layers.${i}`;

      const normed = rmsNorm(x, `${prefix}.input_layernorm.weight`);
      const q = applyRope(heads(project(`${prefix}.self_attn.q_proj`, normed), H), cos, sin); // (B, H, T, D)
      const k = applyRope(heads(project(`${prefix}.self_attn.k_proj`, normed), Hkv), cos, sin); // (B, Hkv, T, D)
      const v = heads(project(`${prefix}.self_attn.v_proj`, normed), Hkv); // (B, Hkv, T, D)
      const attended = groupedQueryAttention(q, k, v, bias, 1 / Math.sqrt(D)); // (B, H, T, D)
      const merged = attended.transpose([0, 2, 1, 3]).reshape([B, T, H * D]);
      x = x.add(project(`${prefix}.self_attn.o_proj`, merged));

      const mlpInput = rmsNorm(x, `${prefix}.post_attention_layernorm.weight`);
      const gate = project(`${prefix}.mlp.gate_proj`, mlpInput); // (B, T, F)
      const up = project(`${prefix}.mlp.up_proj`, mlpInput);
      x = x.add(project(`${prefix}.mlp.down_proj`, tf.mul(gate.mul(tf.sigmoid(gate)), up)));
    }
    // transformers applies the final norm to the last hidden state only.
    if (layer === config.numHiddenLayers) x = rmsNorm(x, 'model.norm.weight');
    return x;
  });
}

import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import { LlamaForCausalLM } from '../src/model/llama';
import { causalLmLoss } from '../src/model/loss';
import { wasmWorkaround } from '../src/model/matmul';
import type { ModelConfig } from '../src/model/config';
import { type BenchMeasurement, timeMedian } from './run';

/** The quickstart model's shape (presets/quickstart.json) with a 2048-token vocabulary. */
const CONFIG: ModelConfig = {
  architecture: 'LlamaForCausalLM',
  modelType: 'llama',
  vocabSize: 2048,
  hiddenSize: 128,
  intermediateSize: 344,
  numHiddenLayers: 4,
  numAttentionHeads: 4,
  numKeyValueHeads: 2,
  headDim: 32,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
  ropeScaling: null,
  maxPositionEmbeddings: 1024,
  tieWordEmbeddings: true,
  attentionBias: false,
  slidingWindow: null,
  bosTokenId: 0,
  eosTokenIds: [1],
  padTokenId: 2,
  initializerRange: 0.02,
};

/**
 * Times one pretraining step (forward, backward, no update) of the quickstart model on 4 × 256
 * tokens with the wasm workaround of matmul.ts and attention.ts, against plain tf.matMul in the same run.
 */
export async function runBench(): Promise<BenchMeasurement[]> {
  const backend = await initBackend();
  const model = LlamaForCausalLM.randomInit(CONFIG, 1);
  const ids = tf.randomUniform([4, 256], 0, CONFIG.vocabSize, 'int32', 3) as tf.Tensor2D;
  const variables = [...model.namedWeights().values()];
  const step = () => {
    const { value, grads } = tf.variableGrads(() => causalLmLoss(model.forward(ids, { training: true }), ids), variables);
    value.dataSync();
    tf.dispose([value, ...Object.values(grads)]);
  };
  const timed = async (enabled: boolean) => {
    wasmWorkaround.enabled = enabled;
    try {
      return await timeMedian(step, { repeats: 3, warmup: 1 });
    } finally {
      wasmWorkaround.enabled = true;
    }
  };
  const seconds = await timed(true);
  const baselineSeconds = await timed(false);
  model.dispose();
  ids.dispose();
  return [
    {
      name: `training step, 1M-parameter Llama, 4 × 256 tokens (${backend.name})`,
      seconds,
      baseline: { name: 'plain tf.matMul and batched attention', seconds: baselineSeconds },
      // On wasm the workaround was about 5 times faster here; on other backends both paths are the same code.
      maxRatio: 1.2,
      work: { count: 4 * 256, unit: 'tokens' },
    },
  ];
}

if (require.main === module) {
  runBench().then((measurements) => {
    for (const m of measurements) console.log(`${m.name}: ${m.seconds.toFixed(3)} s against ${m.baseline.seconds.toFixed(3)} s (${(m.seconds / m.baseline.seconds).toFixed(2)})`);
  });
}

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import { LlamaForCausalLM } from '../src/model/llama';
import { injectLora } from '../src/lora/inject';
import { DEFAULT_LORA_CONFIG } from '../src/lora/config';
import { trainLoop, type TrainBatch } from '../src/train/trainer';
import { batchLoss } from '../src/pipeline/stages';
import { sharedPath } from './helpers/shared';

const FIXTURE = 'llama-tiny';

function fixtureBatches(): TrainBatch[] {
  const cases = JSON.parse(fs.readFileSync(sharedPath('fixtures', FIXTURE, 'cases.json'), 'utf8')) as {
    sequences: { input_ids: number[]; labels: number[] }[];
  };
  return cases.sequences.map((sequence) => ({ inputIds: [sequence.input_ids], labels: [sequence.labels] }));
}

async function trainedAdapter(steps: number, checkpointDir?: string, crashAtStep?: number): Promise<Float32Array[]> {
  const model = await LlamaForCausalLM.fromPretrained(sharedPath('fixtures', FIXTURE));
  const lora = injectLora(model, { ...DEFAULT_LORA_CONFIG, r: 4, loraDropout: 0.1 }, { seed: 11 });
  const batches = fixtureBatches();
  const options = {
    task: 'lora',
    variables: lora.trainableVariables(),
    loss: batchLoss(model),
    batchForStep: (step: number) => batches[step % batches.length],
    learningRate: 5e-3,
    warmupSteps: 2,
    weightDecay: 0.01,
    maxGradNorm: 1,
    checkpointDir,
    checkpointEvery: 3,
    // Dropout masks follow the step, so the resumed run draws the same ones.
    beforeStep: (step: number) => lora.setDropoutStep(step),
  };
  if (crashAtStep !== undefined) {
    const crashing = (step: number) => {
      if (step === crashAtStep) throw new Error('simulated crash');
      return batches[step % batches.length];
    };
    await assert.rejects(() => trainLoop({ ...options, steps, batchForStep: crashing }), /simulated crash/);
  }
  await trainLoop({ ...options, steps });
  const values = lora.trainableVariables().map((variable) => variable.dataSync().slice() as Float32Array);
  model.dispose();
  return values;
}

test('trainLoop resumed from a checkpoint equals an uninterrupted run', async () => {
  await initBackend();
  const straight = await trainedAdapter(8);
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'trainer-resume-')), 'checkpoint');
  // The first loop checkpoints before steps 3 and 6 and crashes in step 6; the second resumes at 6.
  const resumed = await trainedAdapter(8, dir, 6);
  assert.equal(straight.length, resumed.length);
  straight.forEach((values, i) => {
    const worst = Math.max(...values.map((value, j) => Math.abs(value - resumed[i][j])));
    assert.ok(worst <= 1e-6, `variable ${i}: resumed differs by ${worst}`);
  });
  const state = JSON.parse(fs.readFileSync(path.join(dir, 'trainer_state.json'), 'utf8'));
  assert.equal(state.step, 8);
  assert.equal(state.trainLoss.length, 8);
  assert.ok(state.tokensPerSecond > 0, 'the final checkpoint records the throughput');
  assert.deepEqual(fs.readdirSync(path.dirname(dir)).sort(), ['checkpoint'], 'no staging folder left behind');
});

test('trainLoop rejects a checkpoint of another task', async () => {
  await initBackend();
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'trainer-task-')), 'checkpoint');
  const variable = tf.variable(tf.scalar(1));
  const loss = () => tf.tidy(() => variable.square() as tf.Scalar);
  const batch: TrainBatch = { inputIds: [[1, 2]], labels: [[1, 2]] };
  const common = { variables: [variable], loss, batchForStep: () => batch, steps: 2, learningRate: 0.1, warmupSteps: 0, weightDecay: 0, maxGradNorm: 1, checkpointDir: dir };
  await trainLoop({ ...common, task: 'pretrain' });
  await assert.rejects(() => trainLoop({ ...common, task: 'lora' }), /belongs to task "pretrain", not "lora"/);
  variable.dispose();
});

test('trainLoop stops on a non-finite loss', async () => {
  await initBackend();
  const variable = tf.variable(tf.scalar(1));
  const loss = () => tf.tidy(() => variable.mul(Number.NaN).sum() as tf.Scalar);
  const batch: TrainBatch = { inputIds: [[1, 2]], labels: [[1, 2]] };
  await assert.rejects(
    () => trainLoop({ task: 'lora', variables: [variable], loss, batchForStep: () => batch, steps: 3, learningRate: 0.1, warmupSteps: 0, weightDecay: 0, maxGradNorm: 1 }),
    /the loss became NaN at step 0/,
  );
  variable.dispose();
});

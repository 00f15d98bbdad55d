import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ProgressCallback } from '../progress';
import { AdamW, clipByGlobalNorm, warmupCosineLearningRate } from './adamw';
import { loadTrainingCheckpoint, saveTrainingCheckpoint } from './checkpoint';

/** One batch of token ids; labels are -100 where a position is not scored, as in Hugging Face. */
export interface TrainBatch {
  inputIds: number[][];
  labels: number[][];
  attentionMask?: number[][];
}

/** Loss function the loop calls: a differentiable scalar loss of the model on a batch. */
export type BatchLoss = (batch: TrainBatch, training: boolean) => tf.Scalar;

export interface TrainLoopOptions {
  /** Name shown in progress output and stored in checkpoints ("pretrain", "lora"). */
  task: string;
  /** The variables the optimizer updates; every other weight stays frozen. */
  variables: tf.Variable[];
  loss: BatchLoss;
  /** Returns the batch for a step. It must depend only on the step, so a resumed run gets the same data. */
  batchForStep: (step: number) => TrainBatch;
  steps: number;
  learningRate: number;
  warmupSteps: number;
  weightDecay: number;
  maxGradNorm: number;
  /** Held-out batches scored every evalEvery steps and at the end. */
  evalBatches?: TrainBatch[];
  evalEvery?: number;
  /** Folder for an atomic checkpoint every checkpointEvery steps; an existing one is resumed. */
  checkpointDir?: string;
  checkpointEvery?: number;
  onProgress?: ProgressCallback;
  /** Called with the step number before each training step, e.g. to seed dropout by step. */
  beforeStep?: (step: number) => void;
}

export interface LossPoint {
  step: number;
  loss: number;
}

export interface TrainResult {
  trainLoss: LossPoint[];
  evalLoss: LossPoint[];
  /** Scored (label != -100) plus unscored tokens processed per second of training, excluding evaluation. */
  tokensPerSecond: number;
  trainSeconds: number;
  tokensSeen: number;
  resumedFromStep: number;
}

function countTokens(batch: TrainBatch): number {
  return batch.inputIds.reduce((sum, row, i) => sum + (batch.attentionMask ? batch.attentionMask[i].reduce((a, b) => a + b, 0) : row.length), 0);
}

function meanEvalLoss(loss: BatchLoss, batches: TrainBatch[]): number {
  let total = 0;
  let weight = 0;
  for (const batch of batches) {
    const scored = batch.labels.reduce((sum, row) => sum + row.slice(1).filter((label) => label !== -100).length, 0);
    const value = tf.tidy(() => loss(batch, false).dataSync()[0]);
    total += value * scored;
    weight += scored;
  }
  return weight > 0 ? total / weight : NaN;
}

/**
 * Runs AdamW on `variables` for `steps` steps, in a fixed order each step: learning rate,
 * evaluation and checkpoint, forward/backward, clip, update, log. Returns the loss curves.
 */
export async function trainLoop(options: TrainLoopOptions): Promise<TrainResult> {
  const progress = options.onProgress ?? (() => {});
  const optimizer = new AdamW({ learningRate: options.learningRate, weightDecay: options.weightDecay });
  const trainLoss: LossPoint[] = [];
  const evalLoss: LossPoint[] = [];
  let startStep = 0;
  let tokensSeen = 0;
  let restoredSpeed: { tokensPerSecond?: number; trainSeconds?: number } = {};

  if (options.checkpointDir && fs.existsSync(path.join(options.checkpointDir, 'trainer_state.json'))) {
    const restored = await loadTrainingCheckpoint(options.checkpointDir, options.variables, optimizer);
    if (restored.task !== options.task) {
      throw new Error(`Checkpoint ${options.checkpointDir} belongs to task "${restored.task}", not "${options.task}". Remove it or pick another output folder.`);
    }
    startStep = restored.step;
    trainLoss.push(...restored.trainLoss);
    evalLoss.push(...restored.evalLoss);
    tokensSeen = restored.tokensSeen;
    restoredSpeed = { tokensPerSecond: restored.tokensPerSecond, trainSeconds: restored.trainSeconds };
    progress({ kind: 'log', message: `${options.task}: resumed from the checkpoint at step ${startStep} in ${options.checkpointDir}` });
  }

  const schedule = { peak: options.learningRate, warmupSteps: options.warmupSteps, totalSteps: options.steps };
  const evalEvery = options.evalEvery ?? 0;
  const checkpointEvery = options.checkpointEvery ?? 0;
  progress({ kind: 'start', task: options.task, total: options.steps, unit: 'steps' });
  let trainMilliseconds = 0;
  let tokensThisRun = 0;

  for (let step = startStep; step < options.steps; step++) {
    optimizer.learningRate = warmupCosineLearningRate(step, schedule);

    if (options.evalBatches && evalEvery > 0 && step > startStep && step % evalEvery === 0) {
      evalLoss.push({ step, loss: meanEvalLoss(options.loss, options.evalBatches) });
    }
    if (options.checkpointDir && checkpointEvery > 0 && step > startStep && step % checkpointEvery === 0) {
      await saveTrainingCheckpoint(options.checkpointDir, { task: options.task, step, trainLoss, evalLoss, tokensSeen }, options.variables, optimizer);
    }

    const started = performance.now();
    options.beforeStep?.(step);
    const batch = options.batchForStep(step);
    const { value, grads } = tf.variableGrads(() => options.loss(batch, true), options.variables);
    const orderedGrads = options.variables.map((variable) => grads[variable.name]);
    const clipped = clipByGlobalNorm(orderedGrads, options.maxGradNorm);
    optimizer.applyGradients(options.variables, clipped.grads);
    const lossValue = (await value.data())[0];
    tf.dispose([value, ...orderedGrads, ...clipped.grads]);
    trainMilliseconds += performance.now() - started;

    if (!Number.isFinite(lossValue)) {
      throw new Error(`${options.task}: the loss became ${lossValue} at step ${step}. Lower the learning rate or check the data.`);
    }
    const batchTokens = countTokens(batch);
    tokensSeen += batchTokens;
    tokensThisRun += batchTokens;
    trainLoss.push({ step, loss: lossValue });
    progress({
      kind: 'update',
      task: options.task,
      done: step + 1,
      total: options.steps,
      metrics: { loss: lossValue, lr: optimizer.learningRate, gradNorm: clipped.norm, tokensPerSecond: tokensThisRun / (trainMilliseconds / 1000) },
    });
  }

  const alreadyFinished = startStep >= options.steps;
  if (options.evalBatches && options.evalBatches.length > 0 && !alreadyFinished) {
    evalLoss.push({ step: options.steps, loss: meanEvalLoss(options.loss, options.evalBatches) });
  }
  let trainSeconds = trainMilliseconds / 1000;
  let tokensPerSecond = trainSeconds > 0 ? tokensThisRun / trainSeconds : 0;
  if (alreadyFinished) {
    // Nothing ran now: report the speed of the run that finished the task.
    trainSeconds = restoredSpeed.trainSeconds ?? 0;
    tokensPerSecond = restoredSpeed.tokensPerSecond ?? 0;
  }
  if (options.checkpointDir && !alreadyFinished) {
    await saveTrainingCheckpoint(
      options.checkpointDir,
      { task: options.task, step: options.steps, trainLoss, evalLoss, tokensSeen, tokensPerSecond, trainSeconds },
      options.variables,
      optimizer,
    );
  }
  optimizer.dispose();
  const result: TrainResult = {
    trainLoss,
    evalLoss,
    tokensPerSecond,
    trainSeconds,
    tokensSeen,
    resumedFromStep: startStep,
  };
  progress({
    kind: 'end',
    task: options.task,
    done: options.steps,
    seconds: trainSeconds,
    metrics: { finalLoss: trainLoss.at(-1)?.loss ?? NaN, tokensPerSecond: result.tokensPerSecond },
  });
  return result;
}

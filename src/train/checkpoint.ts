import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { SafetensorsFile, writeSafetensors } from '../model/safetensors';
import { AdamW } from './adamw';
import type { LossPoint } from './trainer';

export interface TrainerState {
  task: string;
  /** The next step to run. */
  step: number;
  trainLoss: LossPoint[];
  evalLoss: LossPoint[];
  tokensSeen: number;
  /** Training throughput and time of the run that finished the task; only the final checkpoint has them. */
  tokensPerSecond?: number;
  trainSeconds?: number;
}

/**
 * Reads the loop state of a checkpoint without its tensors (loss curves, throughput), or null when
 * `dir` contains none. Reports of a resumed run take their loss curves from here.
 */
export function readTrainerState(dir: string): TrainerState | null {
  const file = path.join(dir, STATE_FILE);
  if (!fs.existsSync(file)) return null;
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as TrainerState;
  } catch (error) {
    throw new Error(`${file}: not valid JSON (${(error as Error).message}); delete the checkpoint folder ${dir} to train again.`);
  }
}

const STATE_FILE = 'trainer_state.json';
const TENSORS_FILE = 'trainer_tensors.safetensors';

/**
 * Writes the trained variables, AdamW moments and loop state to `dir`. The files go to a
 * temporary sibling folder that is then renamed over `dir`, so an interrupted write never
 * leaves a half checkpoint behind.
 */
export async function saveTrainingCheckpoint(dir: string, state: TrainerState, variables: tf.Variable[], optimizer: AdamW): Promise<void> {
  const staging = `${dir}.tmp-${process.pid}`;
  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(staging, { recursive: true });
  const optimizerState = await optimizer.exportState(variables);
  const tensors: { name: string; shape: number[]; data: Float32Array }[] = [];
  for (let i = 0; i < variables.length; i++) {
    const shape = variables[i].shape;
    tensors.push({ name: `param.${i}`, shape, data: (await variables[i].data()) as Float32Array });
    tensors.push({ name: `adam_m.${i}`, shape, data: optimizerState.slots[i].m });
    tensors.push({ name: `adam_v.${i}`, shape, data: optimizerState.slots[i].v });
  }
  writeSafetensors(path.join(staging, TENSORS_FILE), tensors, { producer: 'lora-lab trainer checkpoint' });
  const json = { ...state, optimizerStep: optimizerState.step, variableCount: variables.length };
  fs.writeFileSync(path.join(staging, STATE_FILE), `${JSON.stringify(json)}\n`);
  const previous = `${dir}.old-${process.pid}`;
  if (fs.existsSync(dir)) fs.renameSync(dir, previous);
  fs.renameSync(staging, dir);
  fs.rmSync(previous, { recursive: true, force: true });
}

/** Restores a checkpoint written by saveTrainingCheckpoint into `variables` and `optimizer`. */
export async function loadTrainingCheckpoint(dir: string, variables: tf.Variable[], optimizer: AdamW): Promise<TrainerState> {
  const stateFile = path.join(dir, STATE_FILE);
  const raw = JSON.parse(fs.readFileSync(stateFile, 'utf8')) as TrainerState & { optimizerStep: number; variableCount: number };
  if (raw.variableCount !== variables.length) {
    throw new Error(
      `${stateFile}: the checkpoint contains ${raw.variableCount} variables but this run trains ${variables.length}. ` +
        'The model or LoRA configuration changed; delete the checkpoint folder to start over.',
    );
  }
  const file = SafetensorsFile.open(path.join(dir, TENSORS_FILE));
  const tensorNamed = (name: string) => {
    if (!file.has(name)) throw new Error(`${file.file}: tensor "${name}" is missing.`);
    return file.read(name);
  };
  variables.forEach((variable, i) => {
    const param = tensorNamed(`param.${i}`);
    if (param.shape.join(',') !== variable.shape.join(',')) {
      throw new Error(`${path.join(dir, TENSORS_FILE)}: param.${i} has shape [${param.shape}] but the variable has [${variable.shape}].`);
    }
    tf.tidy(() => variable.assign(tf.tensor(param.data, param.shape)));
  });
  optimizer.importState(variables, {
    step: raw.optimizerStep,
    slots: variables.map((variable, i) => ({
      name: variable.name,
      shape: variable.shape,
      m: tensorNamed(`adam_m.${i}`).data,
      v: tensorNamed(`adam_v.${i}`).data,
    })),
  });
  file.close();
  return {
    task: raw.task,
    step: raw.step,
    trainLoss: raw.trainLoss,
    evalLoss: raw.evalLoss,
    tokensSeen: raw.tokensSeen,
    tokensPerSecond: raw.tokensPerSecond,
    trainSeconds: raw.trainSeconds,
  };
}

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ProgressCallback } from '../progress';
import { loadPreset, type Preset } from './preset';
import { runExperiment } from './run';

/** The files of `lora-lab run` that the notebooks read. */
const RUN_FILES = ['run_config.json', 'metrics.json', 'predictions.jsonl', 'scores.jsonl', path.join('adapter', 'adapter_model.safetensors')];

/** A run's run_config.json: the preset, the corpus folder and the base model folder it used. */
export interface RunConfig {
  preset: Preset;
  corpusDir: string;
  /** The model folder that was tuned: --base when given, else the run's own base-model/. */
  baseModelDir: string;
}

/** Reads run_config.json of a run folder. */
export function readRunConfig(runDir: string): RunConfig {
  const file = path.join(runDir, 'run_config.json');
  if (!fs.existsSync(file)) throw new Error(`File not found: ${file}. Point to a folder that 'lora-lab run' wrote.`);
  let json: { preset?: Preset; corpusDir?: string; baseModelDir?: string | null };
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8')) as typeof json;
  } catch (error) {
    throw new Error(`${file}: not valid JSON (${(error as Error).message}).`);
  }
  if (!json.preset || typeof json.corpusDir !== 'string') throw new Error(`${file}: fields "preset" and "corpusDir" are required.`);
  return { preset: json.preset, corpusDir: json.corpusDir, baseModelDir: json.baseModelDir ?? path.join(runDir, 'base-model') };
}

/** Checks whether `dir` contains a finished run: its configuration, metrics, predictions, scores, adapter and base model. */
export function isCompleteRun(dir: string): boolean {
  if (!RUN_FILES.every((file) => fs.existsSync(path.join(dir, file)))) return false;
  try {
    return fs.existsSync(path.join(readRunConfig(dir).baseModelDir, 'config.json'));
  } catch {
    return false;
  }
}

export interface NotebookRun {
  dir: string;
  /** "existing" when a finished run was found, "made" when this call ran the quick preset. */
  origin: 'existing' | 'made';
}

/**
 * Finds the run a notebook shows: outputs/quickstart when `lora-lab run` finished there, else
 * outputs/notebook-quick. When neither is complete, runs the quick preset into outputs/notebook-quick
 * (about half a minute on 2 cores), deleting an unfinished run there first. outputs/quickstart is
 * only read, never written.
 */
export async function locateNotebookRun(options: { outputsDir: string; onProgress: ProgressCallback; log: (line: string) => void; dataDir?: string }): Promise<NotebookRun> {
  const outputsDir = path.resolve(options.outputsDir);
  const quickstart = path.join(outputsDir, 'quickstart');
  if (isCompleteRun(quickstart)) return { dir: quickstart, origin: 'existing' };

  const notebookQuick = path.join(outputsDir, 'notebook-quick');
  if (isCompleteRun(notebookQuick)) return { dir: notebookQuick, origin: 'existing' };

  // A run left unfinished by an earlier version may hold another configuration, which runExperiment rejects.
  fs.rmSync(notebookQuick, { recursive: true, force: true });
  await runExperiment({ preset: loadPreset('quick'), outDir: notebookQuick, dataDir: options.dataDir, fetchIfMissing: false, onProgress: options.onProgress, log: options.log });
  return { dir: notebookQuick, origin: 'made' };
}

import * as fs from 'node:fs';
import * as path from 'node:path';

import type { MeanInterval } from './bootstrap';
import type { EvaluationInput } from './evaluate';

/**
 * Real system outputs on eLife (predicted lay summaries from BioLaySumm participants), stored one
 * system per JSONL file of {id, prediction, system} rows, and their pairing with references.
 */

/** One system's predictions keyed by article id. */
export interface SystemPredictions {
  system: string;
  file: string;
  predictions: Map<string, string>;
}

/**
 * Returns the folder of system outputs: LORA_LAB_PREDICTIONS, else data/elife-predictions beside
 * the eLife corpus folder `corpusDir` (the shared reference folder has this layout).
 */
export function resolvePredictionsDir(corpusDir: string, env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.LORA_LAB_PREDICTIONS ? path.resolve(env.LORA_LAB_PREDICTIONS) : path.resolve(corpusDir, '..', 'elife-predictions');
  if (!fs.existsSync(dir)) {
    throw new Error(`System outputs not found at ${dir}. Set LORA_LAB_PREDICTIONS to the folder that contains val/*.jsonl.`);
  }
  return dir;
}

/** Reads every `<split>/*.jsonl` file under `dir`, one system per file, in name order. */
export function loadSystemPredictions(dir: string, split: string): SystemPredictions[] {
  const splitDir = path.join(dir, split);
  if (!fs.existsSync(splitDir)) throw new Error(`No system outputs for split "${split}": ${splitDir} not found.`);
  const systems: SystemPredictions[] = [];
  for (const name of fs.readdirSync(splitDir).filter((file) => file.endsWith('.jsonl')).sort()) {
    const file = path.join(splitDir, name);
    const predictions = new Map<string, string>();
    fs.readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, index) => {
        if (line.trim() === '') return;
        const row = JSON.parse(line) as { id?: unknown; prediction?: unknown };
        if (typeof row.id !== 'string' || typeof row.prediction !== 'string') {
          throw new Error(`${file}:${index + 1}: expected string fields "id" and "prediction".`);
        }
        predictions.set(row.id, row.prediction);
      });
    systems.push({ system: path.basename(name, '.jsonl'), file, predictions });
  }
  return systems;
}

/**
 * Pairs a system's predictions with the references of `pairs`, in the order of `pairs`. Every
 * pair must have a prediction, so that systems are compared on the same articles.
 */
export function systemRows(system: SystemPredictions, pairs: { id: string; summary: string; abstract: string }[]): EvaluationInput[] {
  return pairs.map((pair) => {
    const prediction = system.predictions.get(pair.id);
    if (prediction === undefined) throw new Error(`${system.file}: no prediction for article ${pair.id}.`);
    return { prediction, reference: pair.summary, source: pair.abstract };
  });
}

/** Formats a mean with its interval as "0.4790 [0.4700, 0.4880]". */
export function formatInterval(interval: MeanInterval, decimals = 4): string {
  return `${interval.mean.toFixed(decimals)} [${interval.low.toFixed(decimals)}, ${interval.high.toFixed(decimals)}]`;
}

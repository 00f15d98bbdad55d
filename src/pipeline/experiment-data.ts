import { detokenize } from '../data/detokenize';
import type { ElifeCorpus, ElifePair } from '../data/elife';
import { pretrainingTexts } from '../data/splits';
import type { LoraConfig } from '../lora/config';
import type { LossSeries } from '../report/plotly';
import type { TrainResult } from '../train/trainer';
import { seededPermutation, type TokenizedExample } from './examples';
import type { Preset } from './preset';

/**
 * The data choices of a run, as functions, so that the notebooks walk through the same steps as
 * runExperiment: which documents pretrain the tokenizer and the model, which pairs tune the adapter.
 */

export interface PretrainingDocuments {
  /** Detokenised documents in a seeded order, up to preset.data.maxPretrainChars characters. */
  documents: string[];
  characters: number;
  /** Documents that were available before the character cap. */
  available: number;
  /** Documents left out because they share a sentence with an evaluation article. */
  droppedForOverlap: number;
}

/**
 * Picks the pretraining text: every document that shares no text with an evaluation article, in an
 * order drawn from preset.seed, detokenised like the prompts, until maxPretrainChars is reached
 * (the document that crosses the cap is kept whole).
 */
export function pretrainingDocuments(corpus: ElifeCorpus, evalIds: Iterable<string>, preset: Preset): PretrainingDocuments {
  const pretraining = pretrainingTexts(corpus, evalIds);
  const documents: string[] = [];
  let characters = 0;
  for (const index of seededPermutation(pretraining.texts.length, preset.seed)) {
    if (characters >= preset.data.maxPretrainChars) break;
    const text = detokenize(pretraining.texts[index].text);
    documents.push(text);
    characters += text.length;
  }
  return { documents, characters, available: pretraining.texts.length, droppedForOverlap: pretraining.droppedForOverlap.length };
}

/** Picks the tuning pairs of a run: all of them, or preset.data.maxTrainPairs drawn with preset.seed. */
export function selectTuningPairs(tuningPairs: ElifePair[], preset: Preset): ElifePair[] {
  const limit = preset.data.maxTrainPairs;
  if (limit === null || tuningPairs.length <= limit) return tuningPairs;
  return seededPermutation(tuningPairs.length, preset.seed)
    .slice(0, limit)
    .map((index) => tuningPairs[index]);
}

/**
 * Splits tokenised tuning pairs into training examples and a few held-out ones (the last tenth, 1 to 8)
 * for the held-out loss curve. The held-out ones are tuning pairs, never evaluation articles.
 */
export function splitTuningExamples(examples: TokenizedExample[]): { train: TokenizedExample[]; heldOut: TokenizedExample[] } {
  if (examples.length < 2) throw new Error(`LoRA tuning needs at least 2 tokenised pairs (1 to train, 1 held out), got ${examples.length}; raise data.maxTrainPairs in the preset.`);
  const heldOutCount = Math.min(8, Math.max(1, Math.floor(examples.length / 10)));
  return { train: examples.slice(0, examples.length - heldOutCount), heldOut: examples.slice(examples.length - heldOutCount) };
}

/** Builds the LoRA configuration a preset describes, with PEFT's defaults: no bias training and kaiming-uniform A. */
export function loraConfigFromPreset(preset: Preset): LoraConfig {
  const l = preset.lora;
  return {
    r: l.r,
    loraAlpha: l.loraAlpha,
    loraDropout: l.loraDropout,
    targetModules: l.targetModules,
    bias: 'none',
    useRslora: l.useRslora,
    initLoraWeights: 'kaiming-uniform',
  };
}

/** Loss curves of a training run for lossCurveFigure: "NAME train" and, when evaluated, "NAME held-out". */
export function trainLossSeries(name: string, result: TrainResult): LossSeries[] {
  const series: LossSeries[] = [{ name: `${name} train`, steps: result.trainLoss.map((point) => point.step), losses: result.trainLoss.map((point) => point.loss) }];
  if (result.evalLoss.length > 0) {
    series.push({ name: `${name} held-out`, steps: result.evalLoss.map((point) => point.step), losses: result.evalLoss.map((point) => point.loss) });
  }
  return series;
}

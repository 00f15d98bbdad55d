import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describeBackend, initBackend } from '../backend';
import { corpusCountRows, formatIssue, loadCorpus, resolveCorpusDir, SPLIT_NAMES, type ElifeCorpus } from '../data/elife';
import { projectRoot } from '../paths';
import { fetchElife } from '../data/fetch';
import { makeSplits } from '../data/splits';
import { injectLora } from '../lora/inject';
import { loadAdapter, saveAdapter } from '../lora/adapter';
import type { LoraModel } from '../lora/inject';
import { LlamaForCausalLM } from '../model/llama';
import { writeFileAtomic } from '../model/safetensors';
import { evaluateRows, METRIC_NAMES, type RowMetrics } from '../metrics/evaluate';
import { loadReadability } from '../metrics/readability';
import { pairedBootstrapTest } from '../metrics/bootstrap';
import type { ProgressCallback } from '../progress';
import type { IntervalTable, LossSeries, MetricTable } from '../report/plotly';
import { writeReport } from '../report/report';
import { HfTokenizer } from '../tokenizer/hf-tokenizer';
import { readTrainerState } from '../train/checkpoint';
import { trainLoop, type TrainResult } from '../train/trainer';
import { tokenizePair, tuningBatchForStep, collate } from './examples';
import { loraConfigFromPreset, pretrainingDocuments, selectTuningPairs, splitTuningExamples, trainLossSeries } from './experiment-data';
import type { Preset } from './preset';
import {
  abstractBaseline,
  batchLoss,
  generateSummaries,
  prepareTokenizer,
  pretrainBaseModel,
  readable,
  readPredictions,
  writePredictions,
  type PredictionRow,
} from './stages';

export interface RunOptions {
  preset: Preset;
  /** Corpus folder; otherwise ELIFE_DIR, data/elife/, a download, or the shared sample. */
  dataDir?: string;
  outDir: string;
  /** A Hugging Face model folder (config.json, safetensors, tokenizer.json) to tune instead of pretraining a small model. */
  baseModelDir?: string;
  /** Allow `lora-lab data fetch` when no corpus is found locally. */
  fetchIfMissing?: boolean;
  onProgress: ProgressCallback;
  log: (line: string) => void;
}

export interface RunSummary {
  outDir: string;
  reportFile: string;
  metrics: MetricTable;
  intervals: IntervalTable;
  wallSeconds: number;
  pretrainTokensPerSecond: number | null;
  loraTokensPerSecond: number | null;
}

/** System names as they appear in predictions.jsonl, metrics.json and the report. */
export const SYSTEMS = { base: 'base', lora: 'base + LoRA', abstract: 'abstract (extractive)', reference: 'reference summaries' } as const;

/** Metrics shown in the report table; the _p/_r parts stay in metrics.json and scores.jsonl. */
const REPORT_METRICS = ['rouge1', 'rouge2', 'rougeL', 'rougeLsum', 'fkgl', 'dcrs', 'cli'] as const;
const READABILITY_METRICS = ['fkgl', 'dcrs', 'cli', 'fre'] as const;

/** Checks whether `dir` contains at least one split file (train/val/test in JSON Lines or JSON). */
function hasSplitFiles(dir: string): boolean {
  if (!fs.existsSync(dir)) return false;
  return fs.readdirSync(dir).some((file) => SPLIT_NAMES.some((split) => file.startsWith(split) && /\.(jsonl|json)$/.test(file)));
}

/**
 * Finds the corpus: --data, ELIFE_DIR, data/elife/ when it has split files. Otherwise (when allowed)
 * downloads it into data/elife/; offline, it falls back to the shared eLife sample if one is beside the
 * checkout, and fails with what to do when none is.
 */
async function locateCorpus(options: RunOptions): Promise<string> {
  if (options.dataDir) return path.resolve(options.dataDir);
  const projectData = path.join(projectRoot(), 'data', 'elife');
  if (process.env.ELIFE_DIR) return path.resolve(process.env.ELIFE_DIR);
  if (hasSplitFiles(projectData)) return projectData;
  if (options.fetchIfMissing) {
    try {
      options.log(`No corpus in ${projectData}; downloading the eLife corpus there (lora-lab data fetch).`);
      await fetchElife({ outDir: projectData, onProgress: options.onProgress, timeoutMs: 20_000 });
      return projectData;
    } catch (error) {
      options.log(`Download failed: ${(error as Error).message}`);
    }
  }
  const shared = resolveCorpusDir(process.env);
  options.log(`Using the eLife sample at ${shared}. To use your own copy, put the split files in ${projectData} or pass --data DIR.`);
  return shared;
}

function logCorpus(corpus: ElifeCorpus, outDir: string, log: (line: string) => void): void {
  const rows = corpusCountRows(corpus);
  log(`Corpus in ${corpus.dir}:`);
  log(`  ${'split'.padEnd(18)} ${'file'.padEnd(28)} ${'kept'.padStart(5)} ${'skipped'.padStart(7)} ${'pairs'.padStart(5)} ${'no abstract'.padStart(11)} ${'no summary'.padStart(10)}`);
  for (const row of rows) {
    const cells = [row.kept, row.skipped, row.pairs, row.missingAbstract, row.missingSummary].map(String);
    log(`  ${row.split.padEnd(18)} ${path.basename(row.file).padEnd(28)} ${cells[0].padStart(5)} ${cells[1].padStart(7)} ${cells[2].padStart(5)} ${cells[3].padStart(11)} ${cells[4].padStart(10)}`);
  }
  const issues = Object.values(corpus.splits).flatMap((split) => split?.issues ?? []);
  const skipped = issues.filter((issue) => issue.severity === 'skipped');
  writeFileAtomic(path.join(outDir, 'data_issues.jsonl'), issues.map((issue) => JSON.stringify(issue)).join('\n') + (issues.length ? '\n' : ''));
  for (const issue of skipped.slice(0, 10)) log(`  skipped: ${formatIssue(issue)}`);
  if (skipped.length > 10) log(`  … ${skipped.length - 10} more skipped records`);
  log(`  ${issues.length} records reported (${skipped.length} skipped as invalid, the rest incomplete but kept) in ${path.join(outDir, 'data_issues.jsonl')}`);
}

/** Refuses to mix two configurations in one output folder, since stages resume from what is there. */
function checkRunConfig(outDir: string, config: object): void {
  const file = path.join(outDir, 'run_config.json');
  if (fs.existsSync(file)) {
    let previous: unknown;
    try {
      previous = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (error) {
      throw new Error(`${file}: not valid JSON (${(error as Error).message}). Pass --fresh to start over there, or choose another --out.`);
    }
    const differences = configDifferences(previous, config);
    if (differences.length > 0) {
      throw new Error(
        `${outDir} contains a run with a different configuration (${file}): ${differences.slice(0, 5).join(', ')}. ` +
          'Pass --fresh to start over there, or choose another --out.',
      );
    }
  }
  writeFileAtomic(file, `${JSON.stringify(config, null, 2)}\n`);
}

/** Lists the dotted paths where two JSON values differ; key order does not count. */
export function configDifferences(a: unknown, b: unknown, prefix = ''): string[] {
  const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
  if (isObject(a) && isObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((key) => configDifferences(a[key], b[key], prefix ? `${prefix}.${key}` : key));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [prefix || '(root)'];
}

/**
 * Returns the result of a training stage: from this invocation, or, when the stage's output was
 * reused, from the final state its checkpoint recorded (loss curves and throughput).
 */
function stageResult(result: TrainResult | null, checkpointDir: string): TrainResult | null {
  if (result) return result;
  const state = readTrainerState(checkpointDir);
  if (!state) return null;
  return {
    trainLoss: state.trainLoss,
    evalLoss: state.evalLoss,
    tokensPerSecond: state.tokensPerSecond ?? 0,
    trainSeconds: state.trainSeconds ?? 0,
    tokensSeen: state.tokensSeen,
    resumedFromStep: state.step,
  };
}

function lossSeries(name: string, result: TrainResult | null): LossSeries[] {
  return result ? trainLossSeries(name, result) : [];
}

/** Runs every stage: data, tokenizer, base model, LoRA tuning, generation, evaluation, report. */
export async function runExperiment(options: RunOptions): Promise<RunSummary> {
  const started = Date.now();
  const { preset, log } = options;
  const outDir = path.resolve(options.outDir);

  const backend = await initBackend();
  log(describeBackend(backend));

  // 1. Data
  const corpusDir = await locateCorpus(options);
  if (options.dataDir && !hasSplitFiles(corpusDir)) {
    throw new Error(
      `--data ${corpusDir} contains no eLife split files. Expected train.jsonl, val.jsonl and test.jsonl (or the published train.json, val.json, test.json); val is required for evaluation.`,
    );
  }
  const corpus = loadCorpus(corpusDir);
  // The output folder is created only once the data has loaded, so a bad --data leaves nothing behind.
  fs.mkdirSync(outDir, { recursive: true });
  checkRunConfig(outDir, { preset, corpusDir, baseModelDir: options.baseModelDir ?? null });
  logCorpus(corpus, outDir, log);
  const splits = makeSplits(corpus, { seed: preset.seed, size: preset.data.evalSize });
  writeFileAtomic(path.join(outDir, 'eval_ids.json'), `${JSON.stringify({ seed: preset.seed, size: splits.evalIds.length, ids: splits.evalIds }, null, 2)}\n`);
  const tuningPairs = selectTuningPairs(splits.tuningPairs, preset);
  log(`Evaluation: ${splits.evalIds.length} held-out validation articles (ids in eval_ids.json); tuning on ${tuningPairs.length} other complete pairs.`);

  // Pretraining text: whole documents in a seeded order, detokenised like the prompts, cut at maxPretrainChars.
  // A --base checkpoint brings its own tokenizer and weights, so it needs none.
  let documents: string[] = [];
  if (!options.baseModelDir) {
    const pretraining = pretrainingDocuments(corpus, splits.evalIds, preset);
    documents = pretraining.documents;
    log(
      `Pretraining text: ${documents.length} of ${pretraining.available} documents, ${pretraining.characters.toLocaleString('en-US')} characters; ` +
        `${pretraining.droppedForOverlap} dropped for overlap with evaluation articles.`,
    );
  }

  // 2-3. Tokenizer and base model
  let tokenizer: HfTokenizer;
  let model: LlamaForCausalLM;
  let pretrainResult: TrainResult | null = null;
  const baseModelDir = options.baseModelDir ? path.resolve(options.baseModelDir) : path.join(outDir, 'base-model');
  if (options.baseModelDir) {
    tokenizer = await HfTokenizer.fromDir(baseModelDir);
    model = await LlamaForCausalLM.fromPretrained(baseModelDir, { onProgress: options.onProgress });
    log(`Base model: ${baseModelDir} (${model.config.architecture}, ${model.parameterCount().toLocaleString('en-US')} parameters); no pretraining.`);
    // Embedding rows past the tokenizer's ids are fine (checkpoints pad vocab_size), but ids past the rows are not.
    if (tokenizer.vocabSize > model.config.vocabSize) {
      model.dispose();
      throw new Error(
        `${path.join(baseModelDir, 'tokenizer.json')} has ids up to ${tokenizer.vocabSize - 1}, but config.json's vocab_size is ${model.config.vocabSize}; the tokenizer belongs to another model. Use the tokenizer files from the checkpoint's own repository.`,
      );
    }
  } else {
    const tokenizerDir = path.join(outDir, 'tokenizer');
    tokenizer = await prepareTokenizer(tokenizerDir, documents, preset, log);
    const pretrained = await pretrainBaseModel({
      modelDir: baseModelDir,
      checkpointDir: path.join(outDir, 'checkpoints', 'pretrain'),
      tokenizerDir,
      tokenizer,
      texts: documents,
      preset,
      onProgress: options.onProgress,
      log,
    });
    model = pretrained.model;
    pretrainResult = pretrained.result;
  }

  // 4. LoRA tuning
  const l = preset.lora;
  const loraConfig = loraConfigFromPreset(preset);
  const adapterDir = path.join(outDir, 'adapter');
  let lora: LoraModel;
  let loraResult: TrainResult | null = null;
  if (fs.existsSync(path.join(adapterDir, 'adapter_model.safetensors'))) {
    lora = loadAdapter(model, adapterDir);
    log(`LoRA: reusing the adapter in ${adapterDir}`);
  } else {
    // A checkpoint's max_position_embeddings caps the preset's maxSeqLen: the abstract is shortened to fit.
    const maxSeqLen = Math.min(l.maxSeqLen, model.config.maxPositionEmbeddings);
    const examples = tuningPairs.map((pair) => tokenizePair(tokenizer, pair, { maxSeqLen, maxTargetTokens: l.maxTargetTokens }));
    // A few tuning pairs give the held-out loss curve; they are never evaluation articles.
    const { train: trainExamples, heldOut: devExamples } = splitTuningExamples(examples);
    const truncated = examples.filter((example) => example.truncated).length;
    const meanLength = examples.reduce((sum, example) => sum + example.inputIds.length, 0) / examples.length;
    lora = injectLora(model, loraConfig, { seed: preset.seed });
    log(`LoRA: r=${l.r}, alpha=${l.loraAlpha}, targets ${JSON.stringify(l.targetModules)}; ${lora.describeParameters()}`);
    log(`LoRA: ${trainExamples.length} training and ${devExamples.length} held-out pairs, mean ${meanLength.toFixed(0)} tokens, ${truncated} shortened to fit ${maxSeqLen} tokens; loss on summary tokens only.`);
    const padId = tokenizer.padTokenId ?? tokenizer.eosTokenIds[0];
    loraResult = await trainLoop({
      task: 'lora',
      variables: lora.trainableVariables(),
      loss: batchLoss(model),
      batchForStep: (step) => tuningBatchForStep(trainExamples, step, l.batchSize, preset.seed, padId),
      beforeStep: (step) => lora.setDropoutStep(step),
      steps: l.steps,
      learningRate: l.learningRate,
      warmupSteps: l.warmupSteps,
      weightDecay: l.weightDecay,
      maxGradNorm: l.maxGradNorm,
      evalBatches: Array.from({ length: Math.ceil(devExamples.length / l.batchSize) }, (_, i) => collate(devExamples.slice(i * l.batchSize, (i + 1) * l.batchSize), padId)),
      evalEvery: l.evalEvery,
      checkpointDir: path.join(outDir, 'checkpoints', 'lora'),
      checkpointEvery: l.checkpointEvery,
      onProgress: options.onProgress,
    });
    await saveAdapter(adapterDir, lora, baseModelDir);
    log(`LoRA: adapter saved to ${adapterDir} (PEFT layout)`);
  }

  // A stage reused from an earlier invocation still reports the curves and speed its checkpoint kept.
  if (!options.baseModelDir) pretrainResult = stageResult(pretrainResult, path.join(outDir, 'checkpoints', 'pretrain'));
  loraResult = stageResult(loraResult, path.join(outDir, 'checkpoints', 'lora'));

  // 5. Generation: base (adapters off), base + LoRA, and the abstract as an extractive baseline.
  const predictionsFile = path.join(outDir, 'predictions.jsonl');
  const previous = readPredictions(predictionsFile);
  const rows: PredictionRow[] = [];
  const generationSpeed: Record<string, number> = {};
  for (const system of [SYSTEMS.base, SYSTEMS.lora]) {
    const earlier = previous.filter((row) => row.system === system);
    if (earlier.length === splits.evalPairs.length) {
      rows.push(...earlier);
      log(`Generation (${system}): reusing ${earlier.length} predictions from ${predictionsFile}`);
      continue;
    }
    const run = () => generateSummaries({ model, tokenizer, pairs: splits.evalPairs, system, preset, onProgress: options.onProgress });
    const generated = system === SYSTEMS.base ? await lora.withAdaptersDisabled(run) : await run();
    generationSpeed[system] = generated.tokensPerSecond;
    rows.push(...generated.rows);
    writePredictions(predictionsFile, [...rows, ...previous.filter((row) => !rows.some((r) => r.system === row.system))]);
  }
  rows.push(...abstractBaseline(splits.evalPairs));
  writePredictions(predictionsFile, rows);
  const changed = splits.evalPairs.filter((pair) => {
    const base = rows.find((row) => row.system === SYSTEMS.base && row.id === pair.id)?.prediction;
    const tuned = rows.find((row) => row.system === SYSTEMS.lora && row.id === pair.id)?.prediction;
    return base !== tuned;
  }).length;
  log(`Generation: LoRA changed ${changed} of ${splits.evalPairs.length} summaries; predictions in ${predictionsFile}`);

  // 6. Evaluation
  const readability = await loadReadability();
  const metrics: MetricTable = {};
  const intervals: IntervalTable = {};
  const scoresBySystem: Record<string, RowMetrics[]> = {};
  const scoreLines: string[] = [];
  for (const system of [SYSTEMS.base, SYSTEMS.lora, SYSTEMS.abstract]) {
    const systemRows = rows.filter((row) => row.system === system);
    const { scored, summary } = await evaluateRows(systemRows, { readability, bootstrap: { resamples: preset.evaluation.bootstrapSamples, seed: preset.seed } });
    scoresBySystem[system] = scored;
    systemRows.forEach((row, i) => scoreLines.push(JSON.stringify({ id: row.id, system, ...scored[i] })));
    metrics[system] = {};
    intervals[system] = {};
    for (const name of METRIC_NAMES) {
      const entry = summary.metrics?.[name];
      if (!entry) continue;
      metrics[system][name] = entry.mean;
      intervals[system][name] = [entry.low, entry.high];
    }
  }
  // The references scored for readability only: what "lay" means on this corpus.
  const referenceRows = splits.evalPairs.map((pair) => ({ prediction: pair.summary, reference: pair.summary }));
  const referenceScores = await evaluateRows(referenceRows, { readability, bootstrap: { resamples: preset.evaluation.bootstrapSamples, seed: preset.seed } });
  metrics[SYSTEMS.reference] = {};
  intervals[SYSTEMS.reference] = {};
  for (const name of READABILITY_METRICS) {
    const entry = referenceScores.summary.metrics?.[name];
    if (!entry) continue;
    metrics[SYSTEMS.reference][name] = entry.mean;
    intervals[SYSTEMS.reference][name] = [entry.low, entry.high];
  }
  writeFileAtomic(path.join(outDir, 'scores.jsonl'), scoreLines.join('\n') + '\n');
  const paired: Record<string, ReturnType<typeof pairedBootstrapTest>> = {};
  for (const name of REPORT_METRICS) {
    paired[name] = pairedBootstrapTest(
      scoresBySystem[SYSTEMS.lora].map((row) => row[name]),
      scoresBySystem[SYSTEMS.base].map((row) => row[name]),
      { resamples: preset.evaluation.bootstrapSamples, seed: preset.seed },
    );
  }
  writeFileAtomic(
    path.join(outDir, 'metrics.json'),
    `${JSON.stringify({ articles: splits.evalIds.length, interval: '95% percentile bootstrap over articles', metrics, intervals, pairedLoraMinusBase: paired }, null, 2)}\n`,
  );

  // 7. Report
  const reportMetrics: MetricTable = {};
  const reportIntervals: IntervalTable = {};
  for (const [system, values] of Object.entries(metrics)) {
    reportMetrics[system] = {};
    reportIntervals[system] = {};
    for (const name of REPORT_METRICS) {
      if (values[name] === undefined) continue;
      reportMetrics[system][name] = values[name];
      reportIntervals[system][name] = intervals[system][name];
    }
  }
  const wallSeconds = (Date.now() - started) / 1000;
  const sample = splits.evalPairs[0];
  const samplePrediction = (system: string) => readable(rows.find((row) => row.system === system && row.id === sample.id)?.prediction ?? '', 80);
  const notes = [
    `${splits.evalIds.length} held-out eLife validation articles were scored; their text never reached tokenizer training, pretraining or tuning. Intervals are 95% percentile bootstrap intervals over articles (${preset.evaluation.bootstrapSamples} resamples).`,
    `ROUGE is F1 with the Porter stemmer, as Google's rouge_score computes it, against the reference exactly as the corpus stores it. Readability (FKGL, DCRS, CLI) follows textstat 0.7.4; the "${SYSTEMS.reference}" row shows what lay text scores on this corpus.`,
    `LoRA minus base, paired bootstrap: ${REPORT_METRICS.map((name) => `${name} ${paired[name].meanDifference >= 0 ? '+' : ''}${paired[name].meanDifference.toFixed(3)} (p=${paired[name].pValue.toFixed(3)})`).join(', ')}.`,
    `LoRA changed ${changed} of ${splits.evalPairs.length} generated summaries.`,
    'Readability formulas reward short words and sentences whatever they say, so a low grade for repetitive generated text is not evidence of lay language: read the example below before reading the FKGL, DCRS and CLI columns.',
    ...(splits.evalIds.length < 20
      ? [`With ${splits.evalIds.length} articles the intervals and p-values are rough: a bootstrap over so few articles understates the uncertainty.`]
      : []),
    options.baseModelDir
      ? `Base model: ${options.baseModelDir}.`
      : `The base model is a ${model.parameterCount().toLocaleString('en-US')}-parameter Llama pretrained here for ${preset.pretrain.steps} steps: it stands in for a downloaded checkpoint, so absolute scores are far below published systems.`,
    `Example, ${sample.id}. Base: "${samplePrediction(SYSTEMS.base)}" — base + LoRA: "${samplePrediction(SYSTEMS.lora)}" — reference: "${readable(sample.summary, 80)}"`,
  ];
  const files = writeReport(outDir, {
    title: `lora-lab: ${preset.name}`,
    config: { preset, corpusDir, baseModelDir: options.baseModelDir ?? null },
    metrics: reportMetrics,
    intervals: reportIntervals,
    intervalMethod: `95% percentile bootstrap over ${splits.evalIds.length} articles, ${preset.evaluation.bootstrapSamples} resamples`,
    lossCurves: [...lossSeries('pretrain', pretrainResult), ...lossSeries('LoRA', loraResult)],
    lengthDistributions: [
      ...[SYSTEMS.base, SYSTEMS.lora].map((system) => ({ name: system, values: rows.filter((row) => row.system === system).map((row) => row.prediction.split(/\s+/).filter(Boolean).length) })),
      { name: SYSTEMS.reference, values: splits.evalPairs.map((pair) => pair.summary.split(/\s+/).filter(Boolean).length) },
    ],
    facts: {
      backend: `${backend.name} (${backend.packageName})`,
      startedAt: new Date(started).toISOString(),
      finishedAt: new Date().toISOString(),
      durationSeconds: wallSeconds,
      trainTokensPerSecond: loraResult?.tokensPerSecond,
      pretrainTokensPerSecond: pretrainResult?.tokensPerSecond,
      generationTokensPerSecond: generationSpeed[SYSTEMS.lora],
      machine: `${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`,
    },
    notes,
    unrankedSystems: [SYSTEMS.reference],
  });
  model.dispose();
  log(`Report: ${files.report} (charts: ${files.charts.join(', ')})`);
  return {
    outDir,
    reportFile: files.report,
    metrics,
    intervals,
    wallSeconds,
    pretrainTokensPerSecond: pretrainResult?.tokensPerSecond ?? null,
    loraTokensPerSecond: loraResult?.tokensPerSecond ?? null,
  };
}

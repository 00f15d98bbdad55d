import { type Command, InvalidArgumentError } from 'commander';

import { describeBackend, initBackend } from '../backend';
import { consoleProgress } from '../progress';
import { describeEncoder, loadEncoder, loadFactScoreModels } from '../metrics/encoders';
import { type BertScoreSetting, evaluateFile, type FactScoreSetting, METRIC_NAMES, MODEL_METRIC_NAMES, type RowMetrics } from '../metrics/evaluate';

/** Bad rows printed in full before the rest are only counted. */
const MAX_BAD_ROWS_SHOWN = 10;

function positiveIntegerOption(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new InvalidArgumentError(`expected a positive integer, got "${value}"`);
  return parsed;
}

function nonNegativeIntegerOption(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new InvalidArgumentError(`expected a layer number 0 or above, got "${value}"`);
  return parsed;
}

function integerOption(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed)) throw new InvalidArgumentError(`expected an integer, got "${value}"`);
  return parsed;
}

interface EvaluateCommandOptions {
  input: string;
  out: string;
  summary?: string;
  biolaysumm?: boolean;
  resamples: number;
  seed: number;
  bertscoreModel?: string;
  bertscoreIdf?: boolean;
  factscoreModel?: string;
  encoderLayer?: number;
}

/** Registers `lora-lab evaluate`. */
export function registerEvaluateCommand(program: Command): void {
  program
    .command('evaluate')
    .description(
      'Score predictions against references: ROUGE-1/2/L/Lsum as rouge_score 0.1.2 with stemming, and ' +
        'textstat 0.7.4 readability (FKGL, Dale-Chall, Coleman-Liau, Flesch reading ease) of each prediction',
    )
    .requiredOption('--input <file>', 'JSONL rows {id, prediction, reference, source?}')
    .requiredOption('--out <file>', 'JSONL output: each input row with a "metrics" object')
    .option('--summary <file>', 'JSON summary: per-metric means with 95% bootstrap intervals and bad rows')
    .option('--biolaysumm', 'score as the BioLaySumm scripts: sentence-split rougeLsum, swapped rouge_score arguments')
    .option('--resamples <n>', 'bootstrap resamples for the intervals', positiveIntegerOption, 1000)
    .option('--seed <n>', 'bootstrap seed', integerOption, 0)
    .option(
      '--bertscore-model <dir>',
      'add bertscore_p/_r/_f1 with this encoder: a lora-lab model folder (hidden states) or a local ONNX encoder folder for transformers.js',
    )
    .option('--bertscore-idf', 'weight BERTScore tokens by idf over the input references (bert_score idf=True)')
    .option('--factscore-model <dir>', 'add ldfacts (LongDocFACTScore, needs "source" in every row) with this lora-lab causal LM folder')
    .option('--encoder-layer <n>', 'hidden state of lora-lab models used as embeddings: 0 = embeddings, default the last layer', nonNegativeIntegerOption)
    .action(async (options: EvaluateCommandOptions) => {
      if (options.encoderLayer !== undefined && !options.bertscoreModel && !options.factscoreModel) {
        throw new InvalidArgumentError('--encoder-layer needs --bertscore-model or --factscore-model.');
      }
      const layerOption = options.encoderLayer === undefined ? {} : { layer: options.encoderLayer };
      if (options.bertscoreModel || options.factscoreModel) console.log(describeBackend(await initBackend()));

      const owned: { dispose(): void }[] = [];
      let bertScore: BertScoreSetting | undefined;
      let factScore: FactScoreSetting | undefined;
      try {
        if (options.bertscoreModel) {
          const embedder = await loadEncoder(options.bertscoreModel, layerOption);
          owned.push(embedder);
          bertScore = { embedder, info: embedder.info, idf: options.bertscoreIdf ?? false };
          console.log(`BERTScore encoder: ${describeEncoder(embedder.info)}`);
        }
        if (options.factscoreModel) {
          const models = await loadFactScoreModels(options.factscoreModel, layerOption);
          owned.push(models);
          factScore = models;
          console.log(`LongDocFACTScore encoder: ${describeEncoder(models.encoderInfo)}; scorer: ${describeEncoder(models.scorerInfo)}`);
        }
        await runEvaluation(options, bertScore, factScore);
      } finally {
        for (const model of owned) model.dispose();
      }
    });
}

async function runEvaluation(options: EvaluateCommandOptions, bertScore?: BertScoreSetting, factScore?: FactScoreSetting): Promise<void> {
  const { summary, badRows } = await evaluateFile(options.input, options.out, options.summary, {
    biolaysumm: options.biolaysumm ?? false,
    bootstrap: { resamples: options.resamples, seed: options.seed },
    onProgress: consoleProgress(),
    bertScore,
    factScore,
  });

  console.log(`${summary.rows} rows scored (${summary.mode} mode), ${summary.badRows} bad rows in ${options.input}`);
  if (summary.metrics !== null) {
    for (const name of [...METRIC_NAMES, ...MODEL_METRIC_NAMES]) {
      const interval = summary.metrics[name];
      if (interval === undefined) continue;
      const { mean, low, high, n } = interval;
      const rowsNote = n === summary.rows ? '' : ` (${n} rows with a finite score)`;
      console.log(`${name.padEnd(12)} ${mean.toFixed(4)}  95% CI [${low.toFixed(4)}, ${high.toFixed(4)}]${rowsNote}`);
    }
  }
  if (summary.emptyPredictions > 0) {
    console.error(`Warning: ${summary.emptyPredictions} rows have an empty prediction; they score 0 on ROUGE and out-of-range readability values, which pull the means.`);
  }
  if (summary.bySystem) {
    console.log('Per system (rows carry a "system" field; the overall means above mix them):');
    for (const [system, group] of Object.entries(summary.bySystem)) {
      const cells = ['rouge1', 'rouge2', 'rougeLsum', 'fkgl', 'dcrs', 'cli'].map((name) => {
        const interval = group.metrics?.[name as keyof RowMetrics];
        return `${name} ${interval ? interval.mean.toFixed(4) : 'n/a'}`;
      });
      const duplicates = group.duplicateIds > 0 ? `, ${group.duplicateIds} repeated ids` : '';
      console.log(`  ${system} (${group.rows} rows${duplicates}): ${cells.join(', ')}`);
    }
  }
  for (const bad of badRows.slice(0, MAX_BAD_ROWS_SHOWN)) {
    console.error(`${bad.file}:${bad.line}: field ${bad.field}: ${bad.message}`);
  }
  if (badRows.length > MAX_BAD_ROWS_SHOWN) console.error(`… and ${badRows.length - MAX_BAD_ROWS_SHOWN} more problems`);
  if (summary.badRows > 0) {
    console.error('Fix or remove the rows above and run again; they were not scored.');
    process.exitCode = 1;
  }
  console.log(`Wrote ${options.out}${options.summary ? ` and ${options.summary}` : ''}`);
}

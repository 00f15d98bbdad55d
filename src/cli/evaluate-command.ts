import { type Command, InvalidArgumentError } from 'commander';

import { consoleProgress } from '../progress';
import { evaluateFile, METRIC_NAMES } from '../metrics/evaluate';

/** Bad rows printed in full before the rest are only counted. */
const MAX_BAD_ROWS_SHOWN = 10;

function positiveIntegerOption(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new InvalidArgumentError(`expected a positive integer, got "${value}"`);
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
    .action(async (options: EvaluateCommandOptions) => {
      const { summary, badRows } = await evaluateFile(options.input, options.out, options.summary, {
        biolaysumm: options.biolaysumm ?? false,
        bootstrap: { resamples: options.resamples, seed: options.seed },
        onProgress: consoleProgress(),
      });

      console.log(`${summary.rows} rows scored (${summary.mode} mode), ${summary.badRows} bad rows in ${options.input}`);
      if (summary.metrics !== null) {
        for (const name of METRIC_NAMES) {
          const { mean, low, high } = summary.metrics[name];
          console.log(`${name.padEnd(12)} ${mean.toFixed(4)}  95% CI [${low.toFixed(4)}, ${high.toFixed(4)}]`);
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
    });
}

import * as fs from 'node:fs';
import * as path from 'node:path';

import { evaluateRows, type EvaluationInput } from '../src/metrics/evaluate';
import { HyphenationDictionary } from '../src/metrics/hyphenation';
import { loadDaleChallEasyWords, Readability } from '../src/metrics/readability';
import { lcsLength, rougeScores } from '../src/metrics/rouge';
import { rougeTokenize } from '../src/metrics/tokenize';
import { type BenchMeasurement, timeMedian } from './run';

/** Loads the eLife validation split as pairs: each lay summary scored against its abstract. */
function loadPairs(): EvaluationInput[] {
  const shared = process.env.LORA_LAB_SHARED ?? path.resolve(__dirname, '..', '..', 'shared');
  const file = path.join(shared, 'data', 'elife', 'val.jsonl');
  if (!fs.existsSync(file)) throw new Error(`eLife validation split not found at ${file}; set LORA_LAB_SHARED to the shared data folder.`);
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as { summary: string; abstract: string })
    .map((row) => ({ prediction: row.summary, reference: row.abstract }));
}

/** Computes the LCS length with a full (m+1) x (n+1) table of nested arrays, the textbook baseline. */
function naiveLcsLength(a: string[], b: string[]): number {
  const table: number[][] = [];
  for (let i = 0; i <= a.length; i++) table.push(new Array<number>(b.length + 1).fill(0));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      table[i][j] = a[i - 1] === b[j - 1] ? table[i - 1][j - 1] + 1 : Math.max(table[i - 1][j], table[i][j - 1]);
    }
  }
  return table[a.length][b.length];
}

export async function runBench(): Promise<BenchMeasurement[]> {
  const pairs = loadPairs();
  const easyWords = await loadDaleChallEasyWords();
  const work = { count: pairs.length, unit: 'pairs' };

  const scoreAllUnstemmed = (): void => {
    for (const pair of pairs) rougeScores(pair.reference, pair.prediction, { useStemmer: false });
  };
  const unstemmedSeconds = await timeMedian(scoreAllUnstemmed, { repeats: 3 });

  // A fresh stem cache and a freshly parsed hyphenation dictionary per run, so the timed work
  // includes stemming every distinct word and loading the patterns.
  const scoreAllStemmed = (): void => {
    const stemCache = new Map<string, string>();
    for (const pair of pairs) rougeScores(pair.reference, pair.prediction, { stemCache });
  };
  const stemmedSeconds = await timeMedian(scoreAllStemmed, { repeats: 3 });

  const evaluateAll = (): Promise<unknown> =>
    evaluateRows(pairs, { readability: new Readability(HyphenationDictionary.load(), easyWords), bootstrap: { resamples: 1000 } });
  const evaluateSeconds = await timeMedian(evaluateAll, { repeats: 3 });

  const tokenized = pairs.map((pair) => [rougeTokenize(pair.reference, true), rougeTokenize(pair.prediction, true)]);
  const lcsSeconds = await timeMedian(() => tokenized.forEach(([a, b]) => lcsLength(a, b)), { repeats: 5 });
  const naiveLcsSeconds = await timeMedian(() => tokenized.forEach(([a, b]) => naiveLcsLength(a, b)), { repeats: 5 });

  return [
    {
      name: `ROUGE-1/2/L/Lsum, stemmed, ${pairs.length} summaries vs abstracts`,
      seconds: stemmedSeconds,
      baseline: { name: 'same scoring without the stemmer', seconds: unstemmedSeconds },
      maxRatio: 4,
      work,
    },
    {
      name: `evaluateRows (stemmed ROUGE + FKGL/DCRS/CLI/FRE + 1000-resample intervals), ${pairs.length} pairs`,
      seconds: evaluateSeconds,
      baseline: { name: 'ROUGE without the stemmer, no readability', seconds: unstemmedSeconds },
      work,
    },
    {
      name: `rougeL LCS length (two typed rows), ${pairs.length} pairs`,
      seconds: lcsSeconds,
      baseline: { name: 'full nested-array LCS table', seconds: naiveLcsSeconds },
      maxRatio: 1.5,
      work,
    },
  ];
}

if (require.main === module) {
  runBench().then(
    (measurements) => {
      for (const m of measurements) {
        const ratio = m.seconds / m.baseline.seconds;
        console.log(`${m.name}: ${m.seconds.toFixed(3)} s; ${m.baseline.name}: ${m.baseline.seconds.toFixed(3)} s; ratio ${ratio.toFixed(2)}`);
      }
    },
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}

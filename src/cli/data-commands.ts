import * as path from 'node:path';

import type { Command } from 'commander';

import { consoleProgress } from '../progress';
import { type CorpusIssue, corpusCountRows, formatIssue, loadCorpus, resolveCorpusDir } from '../data/elife';
import { DEFAULT_ELIFE_URL, type ElifeLayout, fetchElife } from '../data/fetch';
import { lengthStatsRows } from '../data/stats';

/** Issues of one kind printed in full before the rest are only counted. */
const MAX_ISSUES_PER_FIELD = 5;

function printIssues(issues: CorpusIssue[]): void {
  const byKey = new Map<string, CorpusIssue[]>();
  for (const issue of issues) {
    const key = `${issue.file} ${issue.severity} ${issue.field}`;
    byKey.set(key, [...(byKey.get(key) ?? []), issue]);
  }
  for (const [key, group] of byKey) {
    console.log(`${key}: ${group.length}`);
    for (const issue of group.slice(0, MAX_ISSUES_PER_FIELD)) console.log(`  ${formatIssue(issue)}`);
    if (group.length > MAX_ISSUES_PER_FIELD) console.log(`  … and ${group.length - MAX_ISSUES_PER_FIELD} more`);
  }
}

/** Registers `lora-lab data fetch` and `lora-lab data stats`. */
export function registerDataCommands(program: Command): void {
  const data = program.command('data').description('Download and inspect the eLife lay-summary corpus');

  data
    .command('fetch')
    .description('Download the public eLife corpus (BioLaySumm 2025 by default) into a folder')
    .option('--url <url>', `folder URL of the split files (default: ELIFE_URL, else ${DEFAULT_ELIFE_URL})`)
    .option('--out <dir>', 'folder to write the split files to', path.join('data', 'elife'))
    .option('--layout <layout>', 'biolaysumm-parquet, goldsack-json, jsonl or auto', 'auto')
    .action(async (options: { url?: string; out: string; layout: ElifeLayout | 'auto' }) => {
      let result;
      try {
        result = await fetchElife({ baseUrl: options.url, outDir: options.out, layout: options.layout, onProgress: consoleProgress() });
      } catch (error) {
        // The message names the fix, and a stack trace would hide it.
        console.error(`lora-lab data fetch: ${(error as Error).message}`);
        process.exitCode = 1;
        return;
      }
      console.log(`eLife corpus from ${result.baseUrl} (${result.layout}) in ${result.outDir}:`);
      console.table(result.files);
    });

  data
    .command('stats')
    .description('Print word-count statistics, kept/skipped record counts and data issues')
    .option('--data <dir>', 'corpus folder (default: ELIFE_DIR, else data/elife, else the shared reference folder)')
    .action((options: { data?: string }) => {
      const dir = options.data ? path.resolve(options.data) : resolveCorpusDir();
      const corpus = loadCorpus(dir);
      console.log(`eLife corpus in ${dir}`);
      console.log('\nRecords per file (pairs = records with both abstract and lay summary):');
      console.table(corpusCountRows(corpus));
      console.log('\nWord counts (whitespace tokens of the pre-tokenised corpus text):');
      console.table(
        lengthStatsRows(corpus).map((row) => ({ ...row, mean: Number(row.mean.toFixed(1)) })),
      );
      const issues = Object.values(corpus.splits).flatMap((split) => split.issues);
      console.log(`\nIssues: ${issues.length} (skipped = record not loaded; incomplete = loaded, but not an abstract→summary pair)`);
      printIssues(issues);
    });
}

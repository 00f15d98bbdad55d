import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { writeFileAtomic } from '../src/report/plotly';

/**
 * One timing from a bench module: the code under test and a baseline doing the same work,
 * both timed in the same run on the same machine, so their ratio carries over between machines
 * where absolute times do not.
 */
export interface BenchMeasurement {
  /** Description of the timed work, e.g. "FKGL over 200 summaries". */
  name: string;
  /** Seconds the code under test took (a median over repeats is best). */
  seconds: number;
  baseline: {
    /** Baseline name, e.g. "Debian python3 textstat" or "naive loop". */
    name: string;
    seconds: number;
  };
  /** The measurement fails when seconds / baseline.seconds is above this. */
  maxRatio?: number;
  /** Work done per timed run, to print throughput, e.g. { count: 200, unit: 'summaries' }. */
  work?: { count: number; unit: string };
}

/** The function every bench/*.bench.ts module exports as runBench. */
export type RunBench = () => Promise<BenchMeasurement[]> | BenchMeasurement[];

export interface BenchRecord extends BenchMeasurement {
  /** The bench file, e.g. "metrics.bench.ts". */
  module: string;
  ratio: number;
  passed: boolean;
}

export interface BenchModuleFailure {
  module: string;
  error: string;
}

export interface BenchReport {
  createdAt: string;
  node: string;
  cpu: string;
  cores: number;
  records: BenchRecord[];
  failures: BenchModuleFailure[];
}

/**
 * Times fn: `warmup` untimed calls, then `repeats` timed calls, and returns the median in seconds.
 * The median keeps one slow call (garbage collection, another process) from moving the result.
 */
export async function timeMedian(fn: () => unknown, options: { repeats?: number; warmup?: number } = {}): Promise<number> {
  const repeats = options.repeats ?? 5;
  const warmup = options.warmup ?? 1;
  if (!Number.isInteger(repeats) || repeats < 1) throw new Error(`timeMedian: repeats must be a positive integer, got ${repeats}.`);

  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    await fn();
    times.push((performance.now() - start) / 1000);
  }
  times.sort((a, b) => a - b);
  const middle = Math.floor(times.length / 2);
  return times.length % 2 === 1 ? times[middle] : (times[middle - 1] + times[middle]) / 2;
}

function checkMeasurement(file: string, measurement: BenchMeasurement): void {
  const positive = (value: unknown) => typeof value === 'number' && Number.isFinite(value) && value > 0;
  if (typeof measurement?.name !== 'string') throw new Error(`${file}: a measurement has no name.`);
  if (!positive(measurement.seconds)) {
    throw new Error(`${file}: "${measurement.name}" seconds must be a positive number, got ${measurement.seconds}.`);
  }
  if (!positive(measurement.baseline?.seconds)) {
    throw new Error(`${file}: "${measurement.name}" baseline.seconds must be a positive number, got ${measurement.baseline?.seconds}.`);
  }
}

/**
 * Runs the runBench() export of each bench module in turn and collects ratios.
 * A module that throws is recorded in failures and the others still run.
 */
export async function runBenchModules(files: string[]): Promise<BenchReport> {
  const records: BenchRecord[] = [];
  const failures: BenchModuleFailure[] = [];

  for (const file of files) {
    const moduleName = path.basename(file);
    try {
      const loaded = (await import(path.resolve(file))) as { runBench?: RunBench; default?: { runBench?: RunBench } };
      const runBench = loaded.runBench ?? loaded.default?.runBench;
      if (typeof runBench !== 'function') throw new Error(`${file} does not export a runBench() function.`);

      for (const measurement of await runBench()) {
        checkMeasurement(file, measurement);
        const ratio = measurement.seconds / measurement.baseline.seconds;
        const passed = measurement.maxRatio === undefined || ratio <= measurement.maxRatio;
        records.push({ module: moduleName, ...measurement, ratio, passed });
      }
    } catch (error) {
      failures.push({ module: moduleName, error: (error as Error).stack ?? String(error) });
    }
  }

  return {
    createdAt: new Date().toISOString(),
    node: process.version,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    records,
    failures,
  };
}

function resultLabel(record: BenchRecord): string {
  if (record.maxRatio === undefined) return 'info';
  return record.passed ? 'pass' : 'FAIL';
}

/** Renders the records as a plain-text table with ratios, and absolute times for context only. */
export function formatBenchTable(records: BenchRecord[]): string {
  const rows = records.map((record) => [
    record.module.replace(/\.bench\.ts$/, ''),
    record.name,
    record.baseline.name,
    `${record.ratio.toFixed(3)}x`,
    record.maxRatio === undefined ? '-' : `<= ${record.maxRatio}x`,
    resultLabel(record),
    `${(record.seconds * 1000).toFixed(1)} / ${(record.baseline.seconds * 1000).toFixed(1)}`,
    record.work ? `${(record.work.count / record.seconds).toFixed(1)} ${record.work.unit}/s` : '',
  ]);
  const header = ['bench', 'measurement', 'baseline', 'ratio', 'limit', 'result', 'ms (ours / baseline)', 'throughput'];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)));
  const line = (cells: string[]) => cells.map((cell, column) => cell.padEnd(widths[column])).join('  ').trimEnd();
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n');
}

async function main(): Promise<void> {
  const benchDir = __dirname;
  const requested = process.argv.slice(2);
  const files = fs
    .readdirSync(benchDir)
    .filter((name) => name.endsWith('.bench.ts'))
    .filter((name) => requested.length === 0 || requested.includes(name.replace(/\.bench\.ts$/, '')))
    .sort()
    .map((name) => path.join(benchDir, name));
  if (files.length === 0) {
    const filter = requested.length > 0 ? ` named ${requested.join(', ')}` : '';
    console.error(`bench: no bench/*.bench.ts modules${filter} found.`);
    process.exitCode = 1;
    return;
  }

  console.log(`bench: running ${files.map((file) => path.basename(file)).join(', ')}`);
  const report = await runBenchModules(files);
  console.log(formatBenchTable(report.records));
  for (const failure of report.failures) console.error(`bench: ${failure.module} failed:\n${failure.error}`);

  const outputFile = path.join(benchDir, '..', 'outputs', 'bench.json');
  writeFileAtomic(outputFile, JSON.stringify(report, null, 2) + '\n');
  console.log(`bench: wrote ${path.relative(process.cwd(), outputFile)}`);

  const failed = report.records.filter((record) => !record.passed).length;
  if (failed > 0 || report.failures.length > 0) {
    console.error(`bench: ${failed} measurements above their ratio limit, ${report.failures.length} modules failed.`);
    process.exitCode = 1;
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}

// Runs every test/*.test.ts (or the files given as arguments) with Node's test runner through tsx
// and exits with its status, so CI logs end with the runner's "# pass N" and "# fail N" lines.
// LORA_LAB_FULL_TESTS=1 turns on the slow cases (see test/helpers/shared.ts).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const testDir = path.join(repoRoot, 'test');

const requested = process.argv.slice(2);
const files =
  requested.length > 0
    ? requested
    : fs
        .readdirSync(testDir)
        .filter((name) => name.endsWith('.test.ts'))
        .sort()
        .map((name) => path.join('test', name));
if (files.length === 0) {
  console.error(`run-tests: no *.test.ts files found in ${testDir}.`);
  process.exit(1);
}

// One file at a time: the machines this runs on have 2 cores, and the model tests and the
// notebook kernels each keep one busy, so running files in parallel only adds contention.
// The TAP reporter is forced in CI because its closing "# pass" and "# fail" lines are what CI reads.
const args = ['--import', 'tsx', '--test', '--test-concurrency=1'];
if (process.env.CI) args.push('--test-reporter=tap');
args.push(...files);

console.log(
  `run-tests: ${files.length} files, ${process.env.LORA_LAB_FULL_TESTS === '1' ? 'full' : 'quick'} mode` +
    ' (LORA_LAB_FULL_TESTS=1 runs the slow cases too)',
);
const result = spawnSync(process.execPath, args, { cwd: repoRoot, stdio: 'inherit' });
if (result.error) {
  console.error(`run-tests: failed to start node: ${result.error.message}`);
  process.exit(1);
}
process.exit(result.status ?? 1);

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { QUICK } from './helpers/shared';

// Executes every notebook headless through scripts/run-notebooks.sh, which needs the compiled
// library in dist/ ('npm test' builds it first) and Jupyter from 'npm run setup'.
// In quick mode the kernels get LORA_LAB_QUICK=1, so notebooks can shrink their work to a smoke run.

const repoRoot = path.join(__dirname, '..');
const notebooks = fs
  .readdirSync(path.join(repoRoot, 'notebooks'))
  .filter((name) => name.endsWith('.ipynb'))
  .sort();

/** Per-notebook limit: quick runs must stay small, full runs may train. */
const NOTEBOOK_TIMEOUT_MS = (QUICK ? 15 : 120) * 60 * 1000;

interface RunResult {
  status: number | null;
  output: string;
}

function runNotebook(name: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    if (QUICK) env.LORA_LAB_QUICK = '1';
    const child = spawn('bash', [path.join(repoRoot, 'scripts', 'run-notebooks.sh'), name], {
      cwd: repoRoot,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, output: Buffer.concat(chunks).toString('utf8') }));
  });
}

interface NotebookOutput {
  output_type: string;
  data?: Record<string, string | string[]>;
}

function executedOutputs(name: string): NotebookOutput[] {
  const file = path.join(repoRoot, 'outputs', 'notebooks', name);
  const notebook = JSON.parse(fs.readFileSync(file, 'utf8')) as { cells: { outputs?: NotebookOutput[] }[] };
  return notebook.cells.flatMap((cell) => cell.outputs ?? []);
}

test('notebooks folder is not empty', () => {
  assert.ok(notebooks.length > 0, 'notebooks/ contains no .ipynb files');
});

for (const name of notebooks) {
  test(`notebook ${name} runs`, { timeout: NOTEBOOK_TIMEOUT_MS }, async () => {
    // A stale executed copy from an earlier run must not pass for this one.
    fs.rmSync(path.join(repoRoot, 'outputs', 'notebooks', name), { force: true });
    const result = await runNotebook(name);
    if (result.status !== 0) {
      // run-notebooks.sh prints the failing cell's source and output last, so the tail carries the cause.
      assert.fail(`${name} failed (exit ${result.status}):\n${result.output.slice(-6000)}`);
    }

    const outputs = executedOutputs(name);
    const errors = outputs.filter((output) => output.output_type === 'error');
    assert.equal(errors.length, 0, `${name} has error outputs`);
  });
}

test('setup check shows offline plot', { skip: !notebooks.includes('00_setup_check.ipynb') }, () => {
  const library = fs.readFileSync(path.join(repoRoot, 'node_modules', 'plotly.js-dist-min', 'plotly.min.js'), 'utf8');
  const html = executedOutputs('00_setup_check.ipynb')
    .filter((output) => output.output_type === 'display_data' && output.data?.['text/html'] !== undefined)
    .map((output) => {
      const text = output.data!['text/html'];
      return Array.isArray(text) ? text.join('') : text;
    });

  assert.equal(html.length, 1, 'one HTML output (the plot)');
  assert.ok(html[0].includes(library), 'the plot output carries plotly.js inline');
  assert.ok(html[0].includes('window.Plotly.newPlot('));
  assert.equal(/<script[^>]*\bsrc\s*=/i.test(html[0]), false, 'no <script src=...> element');
});

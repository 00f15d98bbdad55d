import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../src/backend';
import { LlamaForCausalLM } from '../src/model/llama';
import { makeCheckpoint } from './make-checkpoint';
import { type BenchMeasurement, timeMedian } from './run';

/**
 * Loading a sharded BF16 checkpoint: time against a plain read of its files, and peak resident memory
 * against what tensor-by-tensor loading needs. CheckpointReader reads one tensor at a time. So above the
 * idle process, the peak should stay near one float32 copy of the weights (in the backend) plus the tensor
 * in flight, which JavaScript has as BF16 bytes and as float32 (6 bytes per element).
 */

/** Allowed (peak RSS - idle RSS) / (float32 weights + 6 bytes × largest tensor); runBench throws above it. */
const MAX_MEMORY_RATIO = 1.3;

const distDir = path.resolve(__dirname, '..', 'dist', 'src');

/** Runs `script` in a fresh Node process and returns its peak resident memory in bytes. */
function childPeakRss(script: string, args: string[]): number {
  if (!fs.existsSync(path.join(distDir, 'model', 'llama.js'))) throw new Error(`${distDir} is missing: run "npm run build" first (npm run bench does).`);
  const output = execFileSync(process.execPath, ['-e', script, ...args], { encoding: 'utf8', env: { ...process.env, LORA_LAB_DIST: distDir } });
  const kibibytes = Number(output.trim().split('\n').pop());
  if (!Number.isFinite(kibibytes) || kibibytes <= 0) throw new Error(`Peak RSS probe printed ${JSON.stringify(output)}, expected a number of KiB.`);
  return kibibytes * 1024;
}

// Linux's VmHWM covers this process only. getrusage's ru_maxrss, the fallback elsewhere, survives fork and
// exec, so on Linux it would start at the RSS of this (parent) process.
const PEAK_RSS_KIB = `
function peakRssKib() {
  try {
    const line = require('node:fs').readFileSync('/proc/self/status', 'utf8').split('\\n').find((l) => l.startsWith('VmHWM:'));
    if (line) return Number(line.split(/\\s+/)[1]);
  } catch {}
  return process.resourceUsage().maxRSS;
}
const dist = process.env.LORA_LAB_DIST;
`;
// process.argv in `node -e SCRIPT A B` is [node, A, B].
const IDLE_SCRIPT = `${PEAK_RSS_KIB}
require(dist + '/backend').initBackend().then(() => console.log(peakRssKib()));
`;
const LOAD_SCRIPT = `${PEAK_RSS_KIB}
require(dist + '/backend').initBackend()
  .then(() => require(dist + '/model/llama').LlamaForCausalLM.fromPretrained(process.argv[1]))
  .then(() => console.log(peakRssKib()));
`;

export async function runBench(): Promise<BenchMeasurement[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lora-lab-bench-checkpoint-'));
  try {
    const written = makeCheckpoint(dir, { params: 60e6, shards: 2, hiddenSize: 512, vocabSize: 8000, seed: 1 });
    const shardFiles = fs.readdirSync(dir).filter((name) => name.endsWith('.safetensors')).map((name) => path.join(dir, name));
    const millions = (written.parameters / 1e6).toFixed(0);

    await initBackend();
    const loadSeconds = await timeMedian(
      async () => {
        const model = await LlamaForCausalLM.fromPretrained(dir);
        model.dispose();
      },
      { repeats: 3 },
    );
    const readSeconds = await timeMedian(() => shardFiles.forEach((file) => fs.readFileSync(file)), { repeats: 3 });

    const idle = childPeakRss(IDLE_SCRIPT, []);
    const peak = childPeakRss(LOAD_SCRIPT, [dir]);
    const needed = written.float32Bytes + 6 * written.largestTensorParams;
    const memoryRatio = (peak - idle) / needed;
    const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
    const memoryNote = `peak RSS ${mib(peak)} = idle ${mib(idle)} + ${memoryRatio.toFixed(2)} × (float32 weights ${mib(written.float32Bytes)} + largest tensor in flight ${mib(6 * written.largestTensorParams)})`;
    if (memoryRatio > MAX_MEMORY_RATIO) {
      throw new Error(`Loading used more memory than one float32 copy of the weights allows (${memoryNote}); the limit is ${MAX_MEMORY_RATIO} ×. Something keeps a second copy alive.`);
    }

    return [
      {
        name: `fromPretrained, ${millions}M-parameter BF16 checkpoint in 2 shards (${memoryNote})`,
        seconds: loadSeconds,
        baseline: { name: 'fs.readFileSync of the shard files', seconds: readSeconds },
        // Widening to float32 and copying into the backend cost a few times the read itself.
        maxRatio: 15,
        work: { count: written.fileBytes / 1e6, unit: 'MB' },
      },
    ];
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  runBench().then(
    (measurements) => {
      for (const m of measurements) {
        console.log(`${m.name}: ${m.seconds.toFixed(3)} s; ${m.baseline.name}: ${m.baseline.seconds.toFixed(3)} s; ratio ${(m.seconds / m.baseline.seconds).toFixed(2)}`);
      }
    },
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}

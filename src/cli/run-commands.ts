import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { describeBackend, initBackend } from '../backend';
import { loadAdapter } from '../lora/adapter';
import { LlamaForCausalLM } from '../model/llama';
import { loadPreset } from '../pipeline/preset';
import { runExperiment } from '../pipeline/run';
import { copyTokenizerFiles } from '../pipeline/stages';
import { projectRoot } from '../paths';
import { consoleProgress } from '../progress';

const log = (line: string) => process.stderr.write(`${line}\n`);

/**
 * Deletes an earlier run's output folder for --fresh. Only a folder that run_config.json marks as a
 * lora-lab run (or an empty one) is removed, so a mistyped --out cannot wipe unrelated files.
 */
function removeRunFolder(outDir: string): void {
  if (!fs.existsSync(outDir)) return;
  const entries = fs.readdirSync(outDir);
  if (entries.length > 0 && !entries.includes('run_config.json')) {
    throw new Error(`--fresh did not delete ${outDir}: it is not a lora-lab run folder (no run_config.json). Remove it yourself or choose another --out.`);
  }
  fs.rmSync(outDir, { recursive: true, force: true });
}

/** Registers `run` (the whole experiment) and `merge` (adapter folded into a checkpoint). */
export function registerRunCommands(program: Command): void {
  program
    .command('run')
    .description('Run the whole experiment: data, tokenizer, base model, LoRA tuning, generation, evaluation and report.')
    .option('--preset <name>', 'preset name in presets/ (quick, quickstart) or a path to a preset JSON file', 'quickstart')
    .option(
      '--data <dir>',
      'eLife corpus folder (JSON Lines or the published JSON arrays); default ELIFE_DIR, then data/elife/, then a download, then the shared sample beside the checkout',
    )
    .option('--out <dir>', 'output folder; default outputs/<preset>')
    .option('--base <dir>', 'tune this Hugging Face model folder (config.json, safetensors, tokenizer.json) instead of pretraining a small model')
    .option('--fresh', 'delete the output folder first instead of resuming from what it holds')
    .option('--no-fetch', 'never download the corpus; use local files only')
    .action(async (options: { preset: string; data?: string; out?: string; base?: string; fresh?: boolean; fetch: boolean }) => {
      const preset = loadPreset(options.preset);
      const outDir = path.resolve(options.out ?? path.join(projectRoot(), 'outputs', preset.name));
      if (options.fresh) removeRunFolder(outDir);
      process.once('SIGINT', () => {
        log(`\nInterrupted. Run the same command again (without --fresh) to resume from the last checkpoint in ${outDir}.`);
        process.exit(130);
      });
      log(`lora-lab run: preset "${preset.name}" (${preset.description}); outputs in ${outDir}`);
      const summary = await runExperiment({
        preset,
        dataDir: options.data,
        outDir,
        baseModelDir: options.base,
        fetchIfMissing: options.fetch,
        onProgress: consoleProgress(),
        log,
      });
      log(`Done in ${(summary.wallSeconds / 60).toFixed(1)} min. Report: ${summary.reportFile}`);
      const table = Object.entries(summary.metrics).map(([system, values]) => ({
        system,
        ...Object.fromEntries(['rouge1', 'rouge2', 'rougeLsum', 'fkgl', 'dcrs', 'cli'].map((name) => [name, values[name] === undefined ? '' : values[name].toFixed(3)])),
      }));
      console.table(table);
    });

  program
    .command('merge')
    .description('Fold a LoRA adapter into its base model (W + scaling·B·A) and save a plain Hugging Face checkpoint, the form llama.cpp, Ollama and LM Studio import.')
    .requiredOption('--model <dir>', 'base model folder (config.json and safetensors)')
    .requiredOption('--adapter <dir>', 'adapter folder in PEFT layout (adapter_config.json, adapter_model.safetensors)')
    .requiredOption('--out <dir>', 'folder for the merged checkpoint')
    .action(async (options: { model: string; adapter: string; out: string }) => {
      const outDir = path.resolve(options.out);
      if (outDir === path.resolve(options.model)) {
        throw new Error(`--out is the --model folder ${outDir}; merging there would overwrite the base weights. Choose a new folder.`);
      }
      if (fs.existsSync(outDir) && fs.readdirSync(outDir).length > 0) {
        throw new Error(`--out ${outDir} is not empty. Choose a new or empty folder for the merged checkpoint.`);
      }
      log(describeBackend(await initBackend()));
      const model = await LlamaForCausalLM.fromPretrained(options.model);
      const lora = loadAdapter(model, options.adapter);
      log(`Loaded ${lora.adapters.size} adapted modules (${lora.describeParameters()})`);
      lora.mergeAndUnload();
      await model.savePretrained(options.out);
      copyTokenizerFiles(options.model, options.out);
      model.dispose();
      log(`Merged checkpoint written to ${path.resolve(options.out)}`);
    });
}

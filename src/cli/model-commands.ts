import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Command, InvalidArgumentError } from 'commander';
import { describeBackend, initBackend } from '../backend';
import { generate } from '../generation/generate';
import { applyAdapterFromDir } from '../lora/adapter';
import { LlamaForCausalLM } from '../model/llama';
import { IGNORE_INDEX, sequenceLosses } from '../model/loss';
import { writeFileAtomic } from '../model/safetensors';
import { consoleProgress } from '../progress';
import { HfTokenizer } from '../tokenizer/hf-tokenizer';

function integerOption(min: number) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < min) throw new InvalidArgumentError(`expected an integer >= ${min}, got "${value}"`);
    return parsed;
  };
}

function numberOption(value: string): number {
  const parsed = Number(value);
  if (!Number.isFinite(parsed)) throw new InvalidArgumentError(`expected a number, got "${value}"`);
  return parsed;
}

function positiveNumberOption(value: string): number {
  const parsed = numberOption(value);
  if (!(parsed > 0)) throw new InvalidArgumentError(`expected a number > 0, got "${value}"`);
  return parsed;
}

function probabilityOption(value: string): number {
  const parsed = numberOption(value);
  if (!(parsed > 0 && parsed <= 1)) throw new InvalidArgumentError(`expected a probability in (0, 1], got "${value}"`);
  return parsed;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Loads the model (and adapter) and prints the start-up summary. */
async function loadModel(modelDir: string, adapterDir: string | undefined): Promise<LlamaForCausalLM> {
  const backend = await initBackend();
  console.error(describeBackend(backend));
  const model = await LlamaForCausalLM.fromPretrained(modelDir, { onProgress: consoleProgress() });
  const c = model.config;
  console.error(
    `${c.architecture}: ${model.parameterCount().toLocaleString('en-US')} parameters, ${c.numHiddenLayers} layers, hidden ${c.hiddenSize}, vocabulary ${c.vocabSize}`,
  );
  if (adapterDir) {
    await applyAdapterFromDir(model, adapterDir);
    console.error(`LoRA adapter from ${adapterDir}`);
  }
  return model;
}

/** Prompts from a file: JSONL rows {"prompt": text}, or one prompt per non-empty line of any other file. */
function readPrompts(file: string): string[] {
  if (!fs.existsSync(file)) throw new Error(`Prompts file not found: ${file}`);
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  if (!file.endsWith('.jsonl')) return lines.filter((line) => line.trim() !== '');
  const prompts: string[] = [];
  for (const [index, line] of lines.entries()) {
    if (line.trim() === '') continue;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch (error) {
      throw new Error(`${file}:${index + 1}: invalid JSON (${(error as Error).message}).`);
    }
    const prompt = (row as { prompt?: unknown }).prompt;
    if (typeof prompt !== 'string') throw new Error(`${file}:${index + 1}: "prompt" must be a string.`);
    prompts.push(prompt);
  }
  return prompts;
}

interface LossRow {
  input_ids: number[];
  labels: number[];
}

/** Reads {input_ids, labels} rows; labels default to input_ids and must have the same length. */
function readLossRows(file: string, vocabSize: number): LossRow[] {
  if (!fs.existsSync(file)) throw new Error(`Input file not found: ${file}`);
  const rows: LossRow[] = [];
  for (const [index, line] of fs.readFileSync(file, 'utf8').split('\n').entries()) {
    if (line.trim() === '') continue;
    const where = `${file}:${index + 1}`;
    let row: { input_ids?: unknown; labels?: unknown };
    try {
      row = JSON.parse(line) as typeof row;
    } catch (error) {
      throw new Error(`${where}: invalid JSON (${(error as Error).message}).`);
    }
    const ids = row.input_ids;
    if (!Array.isArray(ids) || ids.length < 2 || ids.some((id) => !Number.isInteger(id) || id < 0 || id >= vocabSize)) {
      throw new Error(`${where}: "input_ids" must be a list of at least 2 token ids below ${vocabSize}.`);
    }
    const labels = row.labels ?? ids;
    if (!Array.isArray(labels) || labels.length !== ids.length || labels.some((id) => !Number.isInteger(id) || (id !== IGNORE_INDEX && (id < 0 || id >= vocabSize)))) {
      throw new Error(`${where}: "labels" must be a list as long as input_ids of token ids or ${IGNORE_INDEX}.`);
    }
    rows.push({ input_ids: ids as number[], labels: labels as number[] });
  }
  return rows;
}

/** Right-pads a batch (pads masked and labelled IGNORE_INDEX) and returns per-row losses and token counts. */
async function batchLosses(model: LlamaForCausalLM, batch: LossRow[]): Promise<{ losses: number[]; tokenCounts: number[] }> {
  const T = Math.max(...batch.map((row) => row.input_ids.length));
  const pad = (values: number[], fill: number) => [...values, ...new Array<number>(T - values.length).fill(fill)];
  const ids = tf.tensor2d(batch.map((row) => pad(row.input_ids, 0)), [batch.length, T], 'int32');
  const labels = tf.tensor2d(batch.map((row) => pad(row.labels, IGNORE_INDEX)), [batch.length, T], 'int32');
  const mask = tf.tensor2d(batch.map((row) => pad(row.input_ids.map(() => 1), 0)), [batch.length, T], 'int32');
  const logits = model.forward(ids, { attentionMask: mask });
  try {
    return await sequenceLosses(logits, labels);
  } finally {
    tf.dispose([ids, labels, mask, logits]);
  }
}

/**
 * Decodes the new tokens in the context of the prompt, because SentencePiece-style decoders strip the
 * leading space of a sequence and would glue the first new word to the prompt.
 */
export function completionText(decode: (ids: number[]) => string, promptIds: number[], newIds: number[]): string {
  const promptText = decode(promptIds);
  const fullText = decode([...promptIds, ...newIds]);
  return fullText.startsWith(promptText) ? fullText.slice(promptText.length) : decode(newIds);
}

/** Registers `lora-lab generate` and `lora-lab loss`. */
export function registerModelCommands(program: Command): void {
  program
    .command('generate')
    .description('Continue prompts with a Hugging Face Llama/Qwen2/Mistral model folder, optionally with a LoRA adapter')
    .requiredOption('--model <dir>', 'model folder (config.json, model.safetensors, tokenizer.json)')
    .option('--adapter <dir>', 'PEFT LoRA adapter folder to apply')
    .option('--prompt <text>', 'one prompt')
    .option('--prompts <file>', 'prompts file: JSONL rows {"prompt": text}, or one prompt per line')
    .option('--max-new-tokens <n>', 'maximum number of generated tokens per prompt', integerOption(0), 64)
    .option('--sample', 'sample from the distribution instead of greedy decoding')
    .option('--temperature <t>', 'sampling temperature (with --sample)', positiveNumberOption, 1)
    .option('--top-k <k>', 'keep the k most likely tokens when sampling (0 keeps all)', integerOption(0), 0)
    .option('--top-p <p>', 'nucleus sampling: keep the most likely tokens up to this probability mass', probabilityOption, 1)
    .option('--repetition-penalty <x>', 'penalty for tokens already in the sequence (1 is off)', positiveNumberOption, 1)
    .option('--seed <n>', 'seed of the sampling generator', integerOption(0), 0)
    .option('--stop <text>', 'stop a prompt when its new text contains this string (repeatable)', collect, [] as string[])
    .option('--batch-size <n>', 'prompts decoded together', integerOption(1), 8)
    .option('--no-cache', 'recompute every position at each step instead of using a KV cache')
    .option('--out <file>', 'also write JSONL rows {prompt, completion, new_token_ids, finish_reason}')
    .action(async (options) => {
      try {
        if (Boolean(options.prompt) === Boolean(options.prompts)) throw new Error('Give exactly one of --prompt TEXT or --prompts FILE.');
        const prompts: string[] = options.prompt !== undefined ? [options.prompt] : readPrompts(options.prompts);
        if (!fs.existsSync(options.model) || !fs.statSync(options.model).isDirectory()) {
          throw new Error(`Model folder not found: ${options.model}. Pass a Hugging Face model folder with config.json, safetensors weights and tokenizer.json.`);
        }
        const tokenizer = await HfTokenizer.fromDir(options.model);
        const model = await loadModel(options.model, options.adapter);
        const decode = (ids: number[]) => tokenizer.decode(ids, { skipSpecialTokens: true });
        const rows: Record<string, unknown>[] = [];
        for (let start = 0; start < prompts.length; start += options.batchSize) {
          const batch = prompts.slice(start, start + options.batchSize);
          const promptIds = batch.map((text) => tokenizer.encode(text, { addSpecialTokens: true }));
          const result = await generate(
            model,
            promptIds,
            {
              maxNewTokens: options.maxNewTokens,
              doSample: Boolean(options.sample),
              temperature: options.temperature,
              topK: options.topK,
              topP: options.topP,
              repetitionPenalty: options.repetitionPenalty,
              seed: options.seed + start,
              stopStrings: options.stop,
              decode,
              useCache: options.cache,
              onProgress: consoleProgress(),
            },
          );
          for (const [k, text] of batch.entries()) {
            const completion = completionText(decode, promptIds[k], result.newTokens[k]);
            console.log(`${text}${completion}\n`);
            rows.push({ prompt: text, completion, new_token_ids: result.newTokens[k], finish_reason: result.finishReasons[k] });
          }
        }
        if (options.out) writeFileAtomic(options.out, rows.map((row) => JSON.stringify(row)).join('\n') + '\n');
        model.dispose();
      } catch (error) {
        console.error(`lora-lab generate: ${(error as Error).message}`);
        process.exitCode = 1;
      }
    });

  program
    .command('loss')
    .description('Score JSONL rows {input_ids, labels} (labels -100 where not scored) and write each row\'s mean loss')
    .requiredOption('--model <dir>', 'model folder (config.json, model.safetensors)')
    .option('--adapter <dir>', 'PEFT LoRA adapter folder to apply')
    .requiredOption('--input <file>', 'JSONL rows {"input_ids": [...], "labels": [...]}; labels default to input_ids')
    .requiredOption('--out <file>', 'JSONL output, one row {row, loss, token_count} per input row')
    .option('--batch-size <n>', 'rows scored together', integerOption(1), 8)
    .action(async (options: { model: string; adapter?: string; input: string; out: string; batchSize: number }) => {
      try {
        const model = await loadModel(options.model, options.adapter);
        const rows = readLossRows(options.input, model.config.vocabSize);
        const lines: string[] = [];
        let nllSum = 0;
        let tokenSum = 0;
        for (let start = 0; start < rows.length; start += options.batchSize) {
          const { losses, tokenCounts } = await batchLosses(model, rows.slice(start, start + options.batchSize));
          for (const [k, loss] of losses.entries()) {
            // A row without scored tokens has no loss; JSON has no NaN, so it is written as null.
            lines.push(JSON.stringify({ row: start + k, loss: Number.isFinite(loss) ? loss : null, token_count: tokenCounts[k] }));
            if (tokenCounts[k] > 0) {
              nllSum += loss * tokenCounts[k];
              tokenSum += tokenCounts[k];
            }
          }
        }
        writeFileAtomic(path.resolve(options.out), lines.join('\n') + '\n');
        const mean = tokenSum > 0 ? (nllSum / tokenSum).toFixed(4) : 'n/a';
        console.error(`${rows.length} rows, ${tokenSum} scored tokens, mean loss ${mean} nats/token; wrote ${options.out}`);
        model.dispose();
      } catch (error) {
        console.error(`lora-lab loss: ${(error as Error).message}`);
        process.exitCode = 1;
      }
    });
}

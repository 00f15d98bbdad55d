import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { projectRoot } from '../paths';

/** Fields of a training stage that trainLoop takes, shared by pretraining and LoRA tuning. */
const trainingFields = {
  steps: z.number().int().min(1),
  batchSize: z.number().int().min(1),
  learningRate: z.number().positive(),
  warmupSteps: z.number().int().min(0),
  weightDecay: z.number().min(0),
  maxGradNorm: z.number().positive(),
  evalEvery: z.number().int().min(0),
  checkpointEvery: z.number().int().min(0),
};

/**
 * An experiment preset: every size, step count and rate of a run, kept in presets/NAME.json so
 * runs are reproducible and comparable without reading code.
 */
const presetSchema = z
  .object({
    name: z.string().min(1),
    description: z.string(),
    seed: z.number().int(),
    data: z
      .object({
        /** Held-out validation articles that are scored and never seen in pretraining or tuning. */
        evalSize: z.number().int().min(1),
        /** Cap on tuning pairs (null: all complete pairs outside the evaluation set). */
        maxTrainPairs: z.number().int().min(1).nullable(),
        /** Cap on characters of pretraining text, which bounds tokenizer training and pretraining data. */
        maxPretrainChars: z.number().int().min(1000),
      })
      .strict(),
    tokenizer: z.object({ vocabSize: z.number().int().min(300) }).strict(),
    model: z
      .object({
        hiddenSize: z.number().int().min(8),
        intermediateSize: z.number().int().min(8),
        numHiddenLayers: z.number().int().min(1),
        numAttentionHeads: z.number().int().min(1),
        numKeyValueHeads: z.number().int().min(1),
        maxPositionEmbeddings: z.number().int().min(16),
        ropeTheta: z.number().positive(),
        tieWordEmbeddings: z.boolean(),
      })
      .strict(),
    pretrain: z
      .object({
        ...trainingFields,
        seqLen: z.number().int().min(8),
      })
      .strict(),
    lora: z
      .object({
        r: z.number().int().min(1),
        loraAlpha: z.number().positive(),
        loraDropout: z.number().min(0).max(0.99),
        targetModules: z.union([z.array(z.string().min(1)).min(1), z.literal('all-linear')]),
        useRslora: z.boolean(),
        ...trainingFields,
        /** Prompt and target together are cut to this many tokens; the abstract is shortened first. */
        maxSeqLen: z.number().int().min(32),
        /** Target tokens kept at most, so a long summary cannot push the whole abstract out. */
        maxTargetTokens: z.number().int().min(8),
      })
      .strict(),
    generation: z
      .object({
        maxNewTokens: z.number().int().min(1),
        batchSize: z.number().int().min(1),
        repetitionPenalty: z.number().min(1),
      })
      .strict(),
    evaluation: z.object({ bootstrapSamples: z.number().int().min(100) }).strict(),
  })
  .strict();

export type Preset = z.infer<typeof presetSchema>;

/** Projection names of a Llama-family decoder layer, the valid LoRA targets. */
const LLAMA_PROJECTIONS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

/** Folder of the preset files shipped with lora-lab. */
export const PRESETS_DIR = path.join(projectRoot(), 'presets');

/** Loads presets/NAME.json, or a path to a JSON file; errors name the file and the field. */
export function loadPreset(nameOrPath: string): Preset {
  const file = nameOrPath.endsWith('.json') ? path.resolve(nameOrPath) : path.join(PRESETS_DIR, `${nameOrPath}.json`);
  if (!fs.existsSync(file)) {
    const available = fs.existsSync(PRESETS_DIR)
      ? fs.readdirSync(PRESETS_DIR).filter((entry) => entry.endsWith('.json')).map((entry) => entry.replace(/\.json$/, ''))
      : [];
    throw new Error(`Preset not found: ${file}. Available presets: ${available.join(', ') || '(none)'}; or pass a path to a preset JSON file.`);
  }
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`${file}: not valid JSON (${(error as Error).message}).`);
  }
  const parsed = presetSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `field "${issue.path.join('.') || '(root)'}": ${issue.message}`);
    throw new Error(`${file}: invalid preset:\n  ${problems.join('\n  ')}`);
  }
  const preset = parsed.data;
  if (preset.model.hiddenSize % preset.model.numAttentionHeads !== 0) {
    throw new Error(`${file}: field "model.hiddenSize" (${preset.model.hiddenSize}) must be divisible by "model.numAttentionHeads" (${preset.model.numAttentionHeads}).`);
  }
  if (preset.model.numAttentionHeads % preset.model.numKeyValueHeads !== 0) {
    throw new Error(`${file}: field "model.numKeyValueHeads" (${preset.model.numKeyValueHeads}) must divide "model.numAttentionHeads" (${preset.model.numAttentionHeads}).`);
  }
  if (preset.lora.targetModules !== 'all-linear') {
    const unknown = preset.lora.targetModules.filter((name) => !LLAMA_PROJECTIONS.includes(name));
    if (unknown.length > 0) {
      throw new Error(`${file}: field "lora.targetModules" has ${JSON.stringify(unknown)}, which match no projection; use names from ${LLAMA_PROJECTIONS.join(', ')}, or "all-linear".`);
    }
  }
  for (const [field, length] of [['pretrain.seqLen', preset.pretrain.seqLen], ['lora.maxSeqLen', preset.lora.maxSeqLen]] as const) {
    if (length > preset.model.maxPositionEmbeddings) {
      throw new Error(`${file}: field "${field}" (${length}) exceeds "model.maxPositionEmbeddings" (${preset.model.maxPositionEmbeddings}).`);
    }
  }
  return preset;
}

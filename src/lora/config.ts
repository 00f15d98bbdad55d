/**
 * LoRA configuration with PEFT's names and meaning, and the mapping to and from
 * adapter_config.json. PEFT's field names are kept in the file type; the TypeScript side is camelCase.
 */

/** Initialisation of A. B always starts at zero, so a new adapter changes nothing. */
export type LoraInit = 'kaiming-uniform' | 'gaussian';

export interface LoraConfig {
  /** Rank of the update ΔW = B·A. */
  r: number;
  /** Numerator of the scaling: alpha / r, or alpha / sqrt(r) with rsLoRA. */
  loraAlpha: number;
  /** Dropout on the adapter's input only, active in training mode. */
  loraDropout: number;
  /** Module-name suffixes such as "q_proj", or "all-linear" for every projection except the output head. */
  targetModules: string[] | 'all-linear';
  /** Only "none" is supported: biases stay frozen and the adapter adds none. */
  bias: 'none';
  /** Rank-stabilised LoRA (Kalajdzievski 2023): scaling alpha / sqrt(r), which keeps updates comparable across ranks. */
  useRslora: boolean;
  initLoraWeights: LoraInit;
}

export const DEFAULT_LORA_CONFIG: LoraConfig = {
  r: 8,
  loraAlpha: 16,
  loraDropout: 0.05,
  targetModules: ['q_proj', 'v_proj'],
  bias: 'none',
  useRslora: false,
  initLoraWeights: 'kaiming-uniform',
};

/** The adapter_config.json fields lora-lab reads and writes, as PEFT names them. */
export interface PeftAdapterConfigJson {
  peft_type: 'LORA';
  task_type: 'CAUSAL_LM';
  r: number;
  lora_alpha: number;
  lora_dropout: number;
  target_modules: string[] | string;
  bias: string;
  use_rslora: boolean;
  fan_in_fan_out: boolean;
  inference_mode: boolean;
  init_lora_weights: boolean | string;
  base_model_name_or_path: string | null;
  modules_to_save: string[] | null;
  [key: string]: unknown;
}

export class LoraConfigError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'LoraConfigError';
  }
}

/** Throws LoraConfigError naming the first invalid field and how to fix it. */
export function validateLoraConfig(config: LoraConfig, source = 'LoRA config'): void {
  if (!Number.isInteger(config.r) || config.r < 1) {
    throw new LoraConfigError('r', `${source}: r must be an integer >= 1, got ${config.r}.`);
  }
  if (!Number.isFinite(config.loraAlpha) || config.loraAlpha <= 0) {
    throw new LoraConfigError('lora_alpha', `${source}: lora_alpha must be a positive number, got ${config.loraAlpha}.`);
  }
  if (!(config.loraDropout >= 0 && config.loraDropout < 1)) {
    throw new LoraConfigError('lora_dropout', `${source}: lora_dropout must be in [0, 1), got ${config.loraDropout}.`);
  }
  if (config.targetModules !== 'all-linear') {
    if (!Array.isArray(config.targetModules) || config.targetModules.length === 0) {
      throw new LoraConfigError(
        'target_modules',
        `${source}: target_modules must be a non-empty list of module names (e.g. ["q_proj", "v_proj"]) or "all-linear".`,
      );
    }
  }
  if (config.bias !== 'none') {
    throw new LoraConfigError('bias', `${source}: bias "${config.bias}" is not supported; use "none".`);
  }
  if (config.initLoraWeights !== 'kaiming-uniform' && config.initLoraWeights !== 'gaussian') {
    throw new LoraConfigError(
      'init_lora_weights',
      `${source}: init_lora_weights must be "kaiming-uniform" or "gaussian", got ${String(config.initLoraWeights)}.`,
    );
  }
}

/** Returns the factor on B·A: alpha / r, or alpha / sqrt(r) with rsLoRA. */
export function loraScaling(config: Pick<LoraConfig, 'r' | 'loraAlpha' | 'useRslora'>): number {
  return config.useRslora ? config.loraAlpha / Math.sqrt(config.r) : config.loraAlpha / config.r;
}

/**
 * Parses adapter_config.json. PEFT writes target_modules as a list, or as a string that is a
 * regular expression over the full module path. "all-linear" is PEFT's keyword for every linear
 * layer but the output head.
 */
export function parseAdapterConfig(json: unknown, file: string): { config: LoraConfig; targetRegex?: RegExp; baseModel: string | null } {
  if (typeof json !== 'object' || json === null) throw new LoraConfigError('(root)', `${file}: expected a JSON object.`);
  const raw = json as Partial<PeftAdapterConfigJson>;
  if (raw.peft_type !== undefined && raw.peft_type !== 'LORA') {
    throw new LoraConfigError('peft_type', `${file}: peft_type "${String(raw.peft_type)}" is not supported; only "LORA" adapters load.`);
  }
  if (raw.fan_in_fan_out) {
    throw new LoraConfigError('fan_in_fan_out', `${file}: fan_in_fan_out adapters (GPT-2 Conv1D layout) are not supported.`);
  }
  if (raw.use_dora) {
    throw new LoraConfigError('use_dora', `${file}: DoRA adapters (use_dora: true) are not supported; only plain LoRA loads.`);
  }
  for (const field of ['rank_pattern', 'alpha_pattern'] as const) {
    const value = raw[field];
    if (value && typeof value === 'object' && Object.keys(value).length > 0) {
      throw new LoraConfigError(field, `${file}: per-module ${field} is not supported; every module must share r and lora_alpha.`);
    }
  }
  if (raw.layers_to_transform !== undefined && raw.layers_to_transform !== null) {
    throw new LoraConfigError('layers_to_transform', `${file}: layers_to_transform is not supported; the adapter must cover every layer.`);
  }
  const numberField = (name: 'r' | 'lora_alpha' | 'lora_dropout', fallback?: number): number => {
    const value = raw[name] ?? fallback;
    if (typeof value !== 'number') throw new LoraConfigError(name, `${file}: field "${name}" must be a number, got ${JSON.stringify(value)}.`);
    return value;
  };
  let targetModules: LoraConfig['targetModules'];
  let targetRegex: RegExp | undefined;
  if (raw.target_modules === 'all-linear') {
    targetModules = 'all-linear';
  } else if (typeof raw.target_modules === 'string') {
    targetRegex = new RegExp(`^(?:${raw.target_modules})$`);
    targetModules = [raw.target_modules];
  } else if (Array.isArray(raw.target_modules)) {
    targetModules = raw.target_modules.map(String);
  } else {
    throw new LoraConfigError('target_modules', `${file}: field "target_modules" is missing or not a list of module names.`);
  }
  let initLoraWeights: LoraInit = 'kaiming-uniform';
  if (raw.init_lora_weights === 'gaussian') initLoraWeights = 'gaussian';
  const config: LoraConfig = {
    r: numberField('r'),
    loraAlpha: numberField('lora_alpha', 8),
    loraDropout: numberField('lora_dropout', 0),
    targetModules,
    bias: (raw.bias ?? 'none') as 'none',
    useRslora: Boolean(raw.use_rslora),
    initLoraWeights,
  };
  validateLoraConfig(config, file);
  return { config, targetRegex, baseModel: typeof raw.base_model_name_or_path === 'string' ? raw.base_model_name_or_path : null };
}

/** adapter_config.json content for a config, in the form PEFT's LoraConfig.from_pretrained reads. */
export function toAdapterConfigJson(config: LoraConfig, baseModelNameOrPath: string | null): PeftAdapterConfigJson {
  return {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    r: config.r,
    lora_alpha: config.loraAlpha,
    lora_dropout: config.loraDropout,
    target_modules: config.targetModules === 'all-linear' ? 'all-linear' : [...config.targetModules],
    bias: config.bias,
    use_rslora: config.useRslora,
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: config.initLoraWeights === 'gaussian' ? 'gaussian' : true,
    base_model_name_or_path: baseModelNameOrPath,
    modules_to_save: null,
    use_dora: false,
    layers_to_transform: null,
    layers_pattern: null,
    rank_pattern: {},
    alpha_pattern: {},
    revision: null,
  };
}

import * as tf from '@tensorflow/tfjs';
import { Linear, LinearLayer } from '../model/linear';
import { LoraConfig, LoraConfigError, loraScaling, validateLoraConfig } from './config';
import { LoraLinear } from './layer';

/** The part of a decoder that LoRA needs: its projections by module path, and a way to swap one. */
export interface LoraTargetModel {
  linearLayers(): Map<string, LinearLayer>;
  replaceLinear(path: string, layer: LinearLayer): void;
  parameterCount(): number;
}

/** The output head is never a LoRA target under "all-linear", as in PEFT. */
const OUTPUT_HEAD = 'lm_head';

/**
 * Decides whether a module path is targeted. A list entry matches the last component(s) of the path
 * ("q_proj" matches "model.layers.3.self_attn.q_proj"); a regex (PEFT's string form) must match the whole path.
 */
export function isLoraTarget(path: string, config: LoraConfig, targetRegex?: RegExp): boolean {
  if (targetRegex) return targetRegex.test(path);
  if (config.targetModules === 'all-linear') return path !== OUTPUT_HEAD;
  return config.targetModules.some((target) => path === target || path.endsWith(`.${target}`));
}

export interface ParameterCounts {
  trainable: number;
  total: number;
  /** 100 · trainable / total */
  trainablePercent: number;
}

/** A model with LoRA wrappers in place: the adapters by module path, and their variables for the optimizer. */
export class LoraModel {
  constructor(
    readonly model: LoraTargetModel,
    readonly config: LoraConfig,
    readonly adapters: Map<string, LoraLinear>,
  ) {}

  /** Sets every adapter's dropout mask counter to the training step (see LoraLinear.setDropoutStep). */
  setDropoutStep(step: number): void {
    for (const layer of this.adapters.values()) layer.setDropoutStep(step);
  }

  /** The only variables an optimizer should update: every lora_A and lora_B, in module order. */
  trainableVariables(): tf.Variable[] {
    return [...this.adapters.values()].flatMap((layer) => [layer.loraA, layer.loraB]);
  }

  /** Trainable (adapter) against total (base + adapter) parameter counts, as PEFT's print_trainable_parameters reports them. */
  parameterCounts(): ParameterCounts {
    const trainable = this.trainableVariables().reduce((sum, variable) => sum + variable.size, 0);
    const total = this.model.parameterCount() + trainable;
    return { trainable, total, trainablePercent: (100 * trainable) / total };
  }

  describeParameters(): string {
    const counts = this.parameterCounts();
    return `trainable params: ${counts.trainable.toLocaleString('en-US')} || all params: ${counts.total.toLocaleString('en-US')} || trainable%: ${counts.trainablePercent.toFixed(4)}`;
  }

  /**
   * Runs `fn` with every adapter switched off, so the model computes its base outputs, as PEFT's
   * disable_adapter() context does. Merged adapters are unmerged first and merged again after.
   */
  async withAdaptersDisabled<T>(fn: () => Promise<T> | T): Promise<T> {
    const wasMerged = [...this.adapters.values()].some((layer) => layer.merged);
    if (wasMerged) this.unmerge();
    for (const layer of this.adapters.values()) layer.enabled = false;
    try {
      return await fn();
    } finally {
      for (const layer of this.adapters.values()) layer.enabled = true;
      if (wasMerged) this.merge();
    }
  }

  merge(): void {
    for (const layer of this.adapters.values()) layer.merge();
  }

  unmerge(): void {
    for (const layer of this.adapters.values()) layer.unmerge();
  }

  /**
   * Folds every adapter into its base weight and puts the plain layers back, leaving an ordinary
   * model whose weights are W + scaling·B·A (what `lora-lab merge` saves).
   */
  mergeAndUnload(): void {
    for (const [path, layer] of this.adapters) {
      layer.merge();
      this.model.replaceLinear(path, layer.base);
      layer.dispose();
    }
    this.adapters.clear();
    this.unfreezeBase();
  }

  /** Puts the frozen base layers back, unmerging first, and frees the adapter tensors. */
  remove(): void {
    for (const [path, layer] of this.adapters) {
      layer.unmerge();
      this.model.replaceLinear(path, layer.base);
      layer.dispose();
    }
    this.adapters.clear();
    this.unfreezeBase();
  }

  /** Lets the base projections compute weight gradients again, for training without adapters. */
  private unfreezeBase(): void {
    for (const layer of this.model.linearLayers().values()) {
      if (layer instanceof Linear) layer.frozen = false;
    }
  }
}

/**
 * Wraps every targeted Linear of the model in a LoraLinear (A random, B zero).
 * Throws LoraConfigError naming target_modules when a target matches no module, since a silent
 * no-op adapter is the most common LoRA configuration mistake.
 */
export function injectLora(model: LoraTargetModel, config: LoraConfig, options: { seed?: number; targetRegex?: RegExp } = {}): LoraModel {
  validateLoraConfig(config);
  const seed = options.seed ?? 0;
  const scaling = loraScaling(config);
  const layers = model.linearLayers();
  const adapters = new Map<string, LoraLinear>();

  if (config.targetModules !== 'all-linear' && !options.targetRegex) {
    const unmatched = config.targetModules.filter((target) => ![...layers.keys()].some((path) => isLoraTarget(path, { ...config, targetModules: [target] })));
    if (unmatched.length > 0) {
      const available = [...new Set([...layers.keys()].map((path) => path.split('.').pop()))].join(', ');
      throw new LoraConfigError(
        'target_modules',
        `target_modules ${JSON.stringify(unmatched)} match no module of the model. Available projection names: ${available}.`,
      );
    }
  }

  // Only the adapters train, so no base projection needs a weight gradient.
  for (const layer of layers.values()) {
    if (layer instanceof Linear) layer.frozen = true;
  }
  let index = 0;
  for (const [path, layer] of layers) {
    if (!isLoraTarget(path, config, options.targetRegex)) continue;
    if (!(layer instanceof Linear)) {
      throw new Error(`Module ${path} already carries an adapter or is not a plain Linear; remove the existing adapter first.`);
    }
    const wrapped = new LoraLinear(layer, config.r, scaling, config.loraDropout, {
      init: config.initLoraWeights,
      seed: seed + 7919 * index++,
      path,
    });
    model.replaceLinear(path, wrapped);
    adapters.set(path, wrapped);
  }
  if (adapters.size === 0) {
    throw new LoraConfigError('target_modules', `target_modules ${JSON.stringify(config.targetModules)} match no module of the model.`);
  }
  return new LoraModel(model, config, adapters);
}

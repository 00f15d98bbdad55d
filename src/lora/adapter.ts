import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { NamedTensor, SafetensorsFile, writeFileAtomic, writeSafetensors } from '../model/safetensors';
import { LoraConfig, parseAdapterConfig, toAdapterConfigJson } from './config';
import { injectLora, LoraModel, LoraTargetModel } from './inject';

export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';

/**
 * PEFT's tensor names in adapter_model.safetensors. The in-memory adapter name ("default") is not
 * part of the file's keys.
 */
export function peftTensorName(modulePath: string, matrix: 'lora_A' | 'lora_B'): string {
  return `base_model.model.${modulePath}.${matrix}.weight`;
}

/** Writes adapter_config.json and adapter_model.safetensors in PEFT's layout, each atomically. */
export async function saveAdapter(dir: string, lora: LoraModel, baseModelNameOrPath: string | null): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  const tensors: NamedTensor[] = [];
  for (const [modulePath, layer] of lora.adapters) {
    tensors.push({ name: peftTensorName(modulePath, 'lora_A'), shape: layer.loraA.shape, data: (await layer.loraA.data()) as Float32Array });
    tensors.push({ name: peftTensorName(modulePath, 'lora_B'), shape: layer.loraB.shape, data: (await layer.loraB.data()) as Float32Array });
  }
  writeSafetensors(path.join(dir, ADAPTER_WEIGHTS_FILE), tensors);
  writeFileAtomic(path.join(dir, ADAPTER_CONFIG_FILE), `${JSON.stringify(toAdapterConfigJson(lora.config, baseModelNameOrPath), null, 2)}\n`);
}

/** Reads and validates adapter_config.json from an adapter folder. */
export function readAdapterConfig(dir: string): ReturnType<typeof parseAdapterConfig> {
  const configFile = path.join(dir, ADAPTER_CONFIG_FILE);
  if (!fs.existsSync(configFile)) {
    throw new Error(`Adapter config not found: ${configFile}. An adapter folder needs ${ADAPTER_CONFIG_FILE} and ${ADAPTER_WEIGHTS_FILE}, as PEFT saves them.`);
  }
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(configFile, 'utf8'));
  } catch (error) {
    throw new Error(`${configFile}: not valid JSON (${(error as Error).message}).`);
  }
  return parseAdapterConfig(json, configFile);
}

/**
 * Wraps the model's targeted layers with LoRA and loads A and B from a PEFT adapter folder.
 * Every targeted module must have both tensors with shapes A [r, in] and B [out, r]. Every tensor
 * in the file must belong to a targeted module. Otherwise the error names the tensor.
 */
export function loadAdapter(model: LoraTargetModel, dir: string): LoraModel {
  const { config, targetRegex, baseModel } = readAdapterConfig(dir);
  // Most mismatches mean the adapter was trained for another base model, so every error names it.
  const trainedFor = baseModel ? ` The adapter was trained for base model "${baseModel}" (base_model_name_or_path); load it with that model.` : '';
  const weightsFile = path.join(dir, ADAPTER_WEIGHTS_FILE);
  if (!fs.existsSync(weightsFile)) {
    const legacy = path.join(dir, 'adapter_model.bin');
    const hint = fs.existsSync(legacy) ? ' The folder has adapter_model.bin (pickle); convert it with PEFT (save_pretrained(..., safe_serialization=True)).' : '';
    throw new Error(`Adapter weights not found: ${weightsFile}.${hint}`);
  }
  const file = SafetensorsFile.open(weightsFile);
  let lora: LoraModel | undefined;
  try {
    lora = injectLora(model, { ...config, loraDropout: config.loraDropout }, { targetRegex });
    const expected = new Set<string>();
    for (const [modulePath, layer] of lora.adapters) {
      for (const [matrix, variable, shape] of [
        ['lora_A', layer.loraA, [layer.r, layer.inFeatures]],
        ['lora_B', layer.loraB, [layer.outFeatures, layer.r]],
      ] as const) {
        const name = peftTensorName(modulePath, matrix);
        expected.add(name);
        if (!file.has(name)) throw new Error(`${weightsFile}: tensor "${name}" is missing, but target_modules selects ${modulePath}.${trainedFor}`);
        const tensor = file.read(name);
        if (tensor.shape.join(',') !== shape.join(',')) {
          throw new Error(`${weightsFile}: tensor "${name}" has shape [${tensor.shape.join(', ')}], expected [${shape.join(', ')}] for r=${config.r}.${trainedFor}`);
        }
        tf.tidy(() => variable.assign(tf.tensor(tensor.data, tensor.shape)));
      }
    }
    const unexpected = [...file.tensors.keys()].filter((name) => !expected.has(name));
    if (unexpected.length > 0) {
      throw new Error(
        `${weightsFile}: ${unexpected.length} tensor(s) belong to no targeted module of this model, e.g. "${unexpected[0]}". ` +
          `The adapter was trained for a different model or saves extra modules (modules_to_save, embeddings), which lora-lab does not load.${trainedFor}`,
      );
    }
    return lora;
  } catch (error) {
    lora?.remove();
    throw error;
  } finally {
    file.close();
  }
}

/** Loads a PEFT adapter into the model in place; the form the CLI uses for --adapter. */
export async function applyAdapterFromDir(model: LoraTargetModel, dir: string): Promise<LoraModel> {
  return loadAdapter(model, dir);
}

export type { LoraConfig };

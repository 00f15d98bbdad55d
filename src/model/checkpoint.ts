import * as fs from 'node:fs';
import * as path from 'node:path';
import { NamedTensor, SafetensorsFile } from './safetensors';

/**
 * The weights of a Hugging Face model folder: one model.safetensors, or shards listed by
 * model.safetensors.index.json ({"weight_map": {tensor name: shard file}}). Shards open lazily.
 */
export class CheckpointReader {
  private readonly shards = new Map<string, SafetensorsFile>();

  private constructor(
    /** Name of the file a tensor lives in, per tensor. */
    private readonly location: Map<string, string>,
    private readonly dir: string,
  ) {}

  /**
   * Opens the weights in `dir`. `weightsFile` picks a single safetensors file by name (e.g. a BF16 copy);
   * by default model.safetensors, then model.safetensors.index.json, is used.
   */
  static open(dir: string, weightsFile?: string): CheckpointReader {
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new Error(`Model folder not found: ${dir}`);
    const single = path.join(dir, weightsFile ?? 'model.safetensors');
    const index = path.join(dir, 'model.safetensors.index.json');
    if (weightsFile !== undefined || fs.existsSync(single)) {
      const file = SafetensorsFile.open(single);
      const location = new Map([...file.tensors.keys()].map((name) => [name, path.basename(single)]));
      const reader = new CheckpointReader(location, dir);
      reader.shards.set(path.basename(single), file);
      return reader;
    }
    if (fs.existsSync(index)) {
      let weightMap: unknown;
      try {
        weightMap = (JSON.parse(fs.readFileSync(index, 'utf8')) as { weight_map?: unknown }).weight_map;
      } catch (error) {
        throw new Error(`${index}: not valid JSON (${(error as Error).message}).`);
      }
      if (typeof weightMap !== 'object' || weightMap === null) throw new Error(`${index}: "weight_map" is missing or not an object.`);
      const location = new Map<string, string>();
      for (const [name, shard] of Object.entries(weightMap)) {
        if (typeof shard !== 'string') throw new Error(`${index}: "weight_map.${name}" must be a file name, got ${JSON.stringify(shard)}.`);
        location.set(name, shard);
      }
      return new CheckpointReader(location, dir);
    }
    throw new Error(`No weights in ${dir}: expected model.safetensors or model.safetensors.index.json (PyTorch .bin files are not supported; convert them to safetensors).`);
  }

  get tensorNames(): string[] {
    return [...this.location.keys()];
  }

  has(name: string): boolean {
    return this.location.has(name);
  }

  /** Reads one tensor as float32 and checks its shape when `expectedShape` is given. */
  read(name: string, expectedShape?: number[]): NamedTensor {
    const shardName = this.location.get(name);
    if (shardName === undefined) {
      throw new Error(`Tensor "${name}" is missing from the weights in ${this.dir}; the checkpoint does not match config.json.`);
    }
    let shard = this.shards.get(shardName);
    if (!shard) {
      shard = SafetensorsFile.open(path.join(this.dir, shardName));
      this.shards.set(shardName, shard);
    }
    const tensor = shard.read(name);
    if (expectedShape && (tensor.shape.length !== expectedShape.length || tensor.shape.some((d, i) => d !== expectedShape[i]))) {
      throw new Error(
        `${shard.file}: tensor "${name}" has shape [${tensor.shape.join(', ')}], but config.json implies [${expectedShape.join(', ')}].`,
      );
    }
    return tensor;
  }

  close(): void {
    for (const shard of this.shards.values()) shard.close();
    this.shards.clear();
  }
}

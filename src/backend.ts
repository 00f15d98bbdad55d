import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';

/** Backends in the order they are tried: native GPU, native CPU, WebAssembly, plain JavaScript. */
export const BACKEND_ORDER = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_ORDER)[number];

export interface BackendInfo {
  /** tfjs backend name as tf.getBackend() reports it. */
  name: string;
  /** The npm package that provides it. */
  packageName: string;
  /** Reasons the backends before it were not used. */
  skipped: string[];
}

const NATIVE_PACKAGES: Record<'tensorflow-gpu' | 'tensorflow', string> = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  tensorflow: '@tensorflow/tfjs-node',
};

let selected: BackendInfo | undefined;

/**
 * Checks that a tfjs native package is installed with its compiled binding.
 * Requiring a package whose binding is missing registers half of its kernels before it throws,
 * which then floods stderr with "already registered" warnings, so the file is checked first.
 */
export function nativeBindingPath(packageName: string): string | undefined {
  let packageJson: string;
  try {
    packageJson = require.resolve(`${packageName}/package.json`);
  } catch {
    return undefined;
  }
  const libDir = path.join(path.dirname(packageJson), 'lib');
  if (!fs.existsSync(libDir)) return undefined;
  for (const entry of fs.readdirSync(libDir)) {
    const binding = path.join(libDir, entry, 'tfjs_binding.node');
    if (entry.startsWith('napi-v') && fs.existsSync(binding)) return binding;
  }
  return undefined;
}

async function tryBackend(choice: BackendChoice): Promise<string | undefined> {
  if (choice === 'tensorflow-gpu' || choice === 'tensorflow') {
    const packageName = NATIVE_PACKAGES[choice];
    if (!nativeBindingPath(packageName)) return `${packageName}: not installed or its native binding is missing`;
    try {
      require(packageName);
    } catch (error) {
      return `${packageName}: ${(error as Error).message.split('\n')[0]}`;
    }
    return (await tf.setBackend('tensorflow')) ? undefined : `${packageName}: backend failed to initialise`;
  }
  if (choice === 'wasm') {
    try {
      require('@tensorflow/tfjs-backend-wasm');
    } catch (error) {
      return `@tensorflow/tfjs-backend-wasm: ${(error as Error).message.split('\n')[0]}`;
    }
    return (await tf.setBackend('wasm')) ? undefined : 'wasm: backend failed to initialise';
  }
  return (await tf.setBackend('cpu')) ? undefined : 'cpu: backend failed to initialise';
}

/**
 * Selects the fastest TensorFlow.js backend available, in BACKEND_ORDER, and returns which one.
 * `LORA_LAB_BACKEND` (tensorflow-gpu, tensorflow, wasm or cpu) forces one and fails if it is unavailable.
 * Later calls return the first result.
 */
export async function initBackend(forced: string | undefined = process.env.LORA_LAB_BACKEND): Promise<BackendInfo> {
  if (forced && !(BACKEND_ORDER as readonly string[]).includes(forced)) {
    throw new Error(`Invalid LORA_LAB_BACKEND "${forced}": expected one of ${BACKEND_ORDER.join(', ')}.`);
  }
  if (selected) return selected;
  const skipped: string[] = [];
  const order: readonly BackendChoice[] = forced ? [forced as BackendChoice] : BACKEND_ORDER;
  for (const choice of order) {
    const failure = await tryBackend(choice);
    if (failure === undefined) {
      await tf.ready();
      let packageName = '@tensorflow/tfjs';
      if (choice === 'wasm') packageName = '@tensorflow/tfjs-backend-wasm';
      if (choice === 'tensorflow' || choice === 'tensorflow-gpu') packageName = NATIVE_PACKAGES[choice];
      selected = { name: tf.getBackend(), packageName, skipped };
      return selected;
    }
    skipped.push(failure);
  }
  throw new Error(`No TensorFlow.js backend could be initialised:\n  ${skipped.join('\n  ')}`);
}

/** Formats one log line: which backend runs and why faster ones were skipped. */
export function describeBackend(info: BackendInfo): string {
  const skippedNote = info.skipped.length > 0 ? ` (skipped: ${info.skipped.join('; ')})` : '';
  return `TensorFlow.js backend: ${info.name} from ${info.packageName}${skippedNote}`;
}

import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Returns the read-only folder of reference data (eLife records, PyTorch fixtures, tokenizers).
 * .ci/run sets LORA_LAB_SHARED. A checkout beside the folder finds ../shared without the variable.
 */
export function sharedDir(): string {
  const fromEnv = process.env.LORA_LAB_SHARED;
  const candidate = fromEnv ? path.resolve(fromEnv) : path.resolve(__dirname, '..', '..', '..', 'shared');
  if (!fs.existsSync(candidate)) {
    throw new Error(
      `Reference data folder not found at ${candidate}. Set LORA_LAB_SHARED to the folder that holds data/, fixtures/ and models/.`,
    );
  }
  return candidate;
}

/** Path inside the shared reference folder, e.g. sharedPath('fixtures', 'llama-tiny'). */
export function sharedPath(...parts: string[]): string {
  return path.join(sharedDir(), ...parts);
}

/** True unless LORA_LAB_FULL_TESTS=1 requests the slow cases too. */
export const QUICK = process.env.LORA_LAB_FULL_TESTS !== '1';

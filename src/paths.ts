import * as fs from 'node:fs';
import * as path from 'node:path';

let cachedRoot: string | undefined;

/**
 * Returns the lora-lab checkout: the nearest folder above this file whose package.json is named
 * "lora-lab". The same code runs from src/ (tsx, tests) and from dist/src/ (the CLI, notebooks),
 * so fixed "../.." paths would differ between the two.
 */
export function projectRoot(): string {
  if (cachedRoot) return cachedRoot;
  let dir = __dirname;
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest)) {
      try {
        if ((JSON.parse(fs.readFileSync(manifest, 'utf8')) as { name?: string }).name === 'lora-lab') {
          cachedRoot = dir;
          return dir;
        }
      } catch {
        // An unreadable package.json belongs to some other project; keep walking up.
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`Could not find the lora-lab checkout above ${__dirname} (no package.json named "lora-lab").`);
    dir = parent;
  }
}

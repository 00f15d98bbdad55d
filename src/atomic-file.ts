import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Writes `contents` to `file` through a temporary file in the same folder and a rename, so a reader
 * never sees a half-written file. Creates the folder if needed.
 */
export function writeFileAtomic(file: string, contents: string | Uint8Array): void {
  const dir = path.dirname(path.resolve(file));
  fs.mkdirSync(dir, { recursive: true });
  const temporary = path.join(dir, `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  try {
    fs.writeFileSync(temporary, contents);
    fs.renameSync(temporary, file);
  } catch (error) {
    fs.rmSync(temporary, { force: true });
    throw error;
  }
}

#!/usr/bin/env node
// Entry point of the `lora-lab` command. It runs the compiled build; `npm run build` makes dist/.
const path = require('node:path');
const fs = require('node:fs');

const entry = path.join(__dirname, '..', 'dist', 'src', 'cli', 'index.js');
if (!fs.existsSync(entry)) {
  process.stderr.write(`lora-lab is not built yet: ${entry} is missing. Run "npm run build" in ${path.join(__dirname, '..')} first.\n`);
  process.exit(1);
}
require(entry).main(process.argv).catch((error) => {
  process.stderr.write(`lora-lab: ${error && error.message ? error.message : String(error)}\n`);
  if (process.env.LORA_LAB_DEBUG === '1' && error && error.stack) process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});

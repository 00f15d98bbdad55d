import { Command, InvalidArgumentError } from 'commander';
import { registerDataCommands } from './data-commands';
import { registerEvaluateCommand } from './evaluate-command';
import { registerModelCommands } from './model-commands';
import { registerRunCommands } from './run-commands';

/** Parses an option value as a positive integer, for commander. */
export function positiveInteger(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new InvalidArgumentError(`expected a positive integer, got "${value}"`);
  return parsed;
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('lora-lab')
    .description('LoRA fine-tuning of small Llama-family models for lay summaries of eLife articles, measured end to end.')
    .showHelpAfterError()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
  registerRunCommands(program);
  registerDataCommands(program);
  registerModelCommands(program);
  registerEvaluateCommand(program);
  return program;
}

/** Entry point used by bin/lora-lab.js. */
export async function main(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv);
}

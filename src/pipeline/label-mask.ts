import { IGNORE_INDEX } from '../model/loss';
import type { TokenizedExample } from './examples';

/** One position of a tuning example, for a table around the prompt/target boundary. */
export interface LabelRow {
  position: number;
  inputId: number;
  token: string;
  /** IGNORE_INDEX (-100) where the loss skips the position. */
  label: number;
}

export interface LabelMaskSummary {
  total: number;
  /** Positions with label -100: the prompt, which the loss does not score. */
  masked: number;
  scored: number;
  /** `context` positions on each side of the first scored position. */
  boundary: LabelRow[];
}

/**
 * Summarises how a tuning example's labels mask its prompt: counts of masked and scored positions and
 * the tokens around the first scored one. `idToToken` shows each id as its vocabulary entry.
 */
export function describeLabelMask(example: TokenizedExample, idToToken: (id: number) => string | null, context = 4): LabelMaskSummary {
  if (example.inputIds.length !== example.labels.length) {
    throw new Error(`Example ${example.id}: ${example.inputIds.length} input ids but ${example.labels.length} labels; they must have the same length.`);
  }
  const masked = example.labels.filter((label) => label === IGNORE_INDEX).length;
  const firstScored = example.labels.findIndex((label) => label !== IGNORE_INDEX);
  const centre = firstScored === -1 ? example.labels.length : firstScored;
  const boundary: LabelRow[] = [];
  for (let position = Math.max(0, centre - context); position < Math.min(example.inputIds.length, centre + context); position++) {
    const inputId = example.inputIds[position];
    boundary.push({ position, inputId, token: idToToken(inputId) ?? `<id ${inputId}>`, label: example.labels[position] });
  }
  return { total: example.labels.length, masked, scored: example.labels.length - masked, boundary };
}

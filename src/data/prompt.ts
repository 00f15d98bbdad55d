import { detokenize } from './detokenize';
import type { ElifeArticle } from './elife';

/**
 * The lay-summary prompt of the WisPerMed team (BioLaySumm 2024), the one prompt used by tuning,
 * generation and the large-model baselines. `[Abstract]` is replaced by the article's abstract.
 */
export const WISPERMED_PROMPT_TEMPLATE = `You will be provided with the abstract of a scientific article. Your task is to write a lay summary that accurately conveys the key findings and significance of the research in non-technical language understandable to a general audience.

Abstract of the scientific article:
[Abstract]

Lay summary for this article:`;

/**
 * Text between the prompt and the summary. A causal LM reads `prompt + target` as one sequence,
 * so the newline belongs to the prompt and generation starts right after it.
 */
export const PROMPT_TARGET_SEPARATOR = '\n';

/** A tuning or evaluation example: the prompt the model reads and the summary it should write. */
export interface PromptExample {
  id: string;
  /** Prompt ending with PROMPT_TARGET_SEPARATOR; the abstract in it is detokenised. */
  prompt: string;
  /** The detokenised lay summary, the tuning target. */
  target: string;
  /** The lay summary exactly as in the corpus, the reference that metrics score against. */
  reference: string;
}

/**
 * Builds the prompt for `abstract`. The abstract is inserted as given: pass corpus text through
 * `detokenize` first (as `buildExample` does) so that tuning and generation see the same text.
 */
export function buildPrompt(abstract: string): string {
  if (abstract.trim() === '') throw new Error('buildPrompt: the abstract is empty; an article without an abstract cannot be prompted.');
  // A replacer function, because a replacement string would expand "$&" or "$1" inside the abstract.
  return WISPERMED_PROMPT_TEMPLATE.replace('[Abstract]', () => abstract) + PROMPT_TARGET_SEPARATOR;
}

/** Builds the prompt/target pair of an article that has both an abstract and a lay summary. */
export function buildExample(article: ElifeArticle): PromptExample {
  if (article.abstract === null) throw new Error(`buildExample: article ${article.id} has no abstract, so it is not an input→summary pair.`);
  if (article.summary === null) throw new Error(`buildExample: article ${article.id} has no lay summary, so it is not an input→summary pair.`);
  return {
    id: article.id,
    prompt: buildPrompt(detokenize(article.abstract)),
    target: detokenize(article.summary),
    reference: article.summary,
  };
}

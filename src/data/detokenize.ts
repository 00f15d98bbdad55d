/**
 * Undoes the corpus's pre-tokenisation ("development , yet", "( PRC2 )", "C . elegans",
 * "0 . 5 %") so that model inputs, targets and outputs read as ordinary text.
 *
 * Where it applies: prompts and tuning targets are detokenised, because a causal LM should learn
 * and emit normal prose, and the space-before-punctuation style costs extra tokens for nothing.
 * Metrics score references exactly as the corpus has them (ElifeArticle.summary, never passed
 * through this function), which is how the BioLaySumm scorers read them.
 *
 * The rules only remove spaces; they never add, drop or reorder characters other than spaces.
 */
export function detokenize(text: string): string {
  return (
    text
      // Decimals first: "0 . 5" is a number, and the next rule alone would leave "0. 5".
      .replace(/(\d) \. (?=\d)/g, '$1.')
      .replace(/([([{]) /g, '$1')
      .replace(/ ([)\]}])/g, '$1')
      .replace(/ ([.,;:?!%])/g, '$1')
      .replace(/ (['’]s)\b/g, '$1')
      .replace(/[ \t]{2,}/g, ' ')
      .trim()
  );
}

/**
 * A sentence splitter that imitates NLTK's `sent_tokenize` (Punkt with its pre-trained English
 * model), which the BioLaySumm evaluation scripts run before rougeLsum.
 *
 * NOTE: this is an approximation. Punkt's English parameters (learned abbreviations, collocations
 * and orthographic statistics) ship as nltk_data, which Debian's python3-nltk does not include,
 * so they cannot be read here. The rules kept are the ones that decide most breaks in eLife text:
 * - a break follows ".", "?" or "!" (plus closing quotes or brackets) when whitespace and another
 *   token follow. A stand-alone "." token, as in the corpus's tokenised "C . elegans", always
 *   breaks, because Punkt does not treat a bare period as an abbreviation;
 * - no break after a known abbreviation (e.g., i.e., et al., Fig., Dr., ...);
 * - no break after a single-letter initial or a number when the next token starts lowercase.
 */

const ABBREVIATIONS = new Set([
  'e.g', 'i.e', 'al', 'etc', 'fig', 'figs', 'dr', 'mr', 'mrs', 'ms', 'prof', 'vs', 'approx', 'ca',
  'cf', 'eq', 'eqs', 'ref', 'refs', 'vol', 'sp', 'spp', 'st', 'jr', 'sr', 'inc', 'ltd', 'co', 'corp',
  'jan', 'feb', 'mar', 'apr', 'jun', 'jul', 'aug', 'sep', 'sept', 'oct', 'nov', 'dec', 'u.s', 'u.k',
  'no', 'nos', 'p', 'pp', 'resp', 'dept', 'univ', 'mt', 'gen', 'rev', 'sen', 'gov', 'lt', 'col',
]);

const CANDIDATE = /[.?!]+["'\u201d\u2019)\]]*(?=\s+\S)/g;

/** Splits text into sentences; newlines inside a sentence are kept as they are. */
export function splitSentencesPunktLike(text: string): string[] {
  const sentences: string[] = [];
  let start = 0;
  for (const match of text.matchAll(CANDIDATE)) {
    const end = (match.index ?? 0) + match[0].length;
    if (!isBreak(text, match.index ?? 0, end)) continue;
    const sentence = text.slice(start, end).trim();
    if (sentence !== '') sentences.push(sentence);
    start = end;
  }
  const rest = text.slice(start).trim();
  if (rest !== '') sentences.push(rest);
  return sentences;
}

function isBreak(text: string, punctuationStart: number, end: number): boolean {
  let tokenStart = punctuationStart;
  while (tokenStart > 0 && !/\s/.test(text[tokenStart - 1])) tokenStart--;
  const word = text.slice(tokenStart, punctuationStart);
  const next = /\S+/.exec(text.slice(end))?.[0] ?? '';
  const nextIsLower = /^[a-z]/.test(next);
  const mark = text[punctuationStart];

  if (word === '') return true;
  if (mark !== '.') return true;
  if (ABBREVIATIONS.has(word.toLowerCase())) return false;
  if (/^[A-Za-z]$/.test(word) && nextIsLower) return false;
  if (/^\d+$/.test(word) && nextIsLower) return false;
  return true;
}

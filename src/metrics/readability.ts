import { DEFAULT_EN_US_DICTIONARY, HyphenationDictionary } from './hyphenation';

/**
 * Readability scores exactly as Python textstat 0.7.4 computes them (the version used by the
 * BioLaySumm 2023 and 2024 evaluations). textstat's rules differ from the textbook formulas:
 *
 * - Words (lexicon_count): delete every character that is neither a word character (Python's
 *   Unicode \w: letters, digits, underscore) nor whitespace, then split on whitespace. So
 *   "don't" -> "dont" and "cell-fate" -> "cellfate" are one word each, and "3.5" is one word "35".
 * - Syllables: lowercase, delete punctuation as above, then per word the number of Pyphen
 *   hyphenation points (hyph_en_US.dic, left/right minimums 2/2) plus one.
 * - Sentences: Python's re.findall(r'\b[^.!?]+[.!?]*') pieces; pieces of 2 words or fewer are
 *   dropped from the count, and the count is at least 1.
 * - Every intermediate average is rounded: words per sentence and syllables per word to 1
 *   decimal, letters per word and sentences per word to 2 decimals, with legacy_round
 *   (floor(x * 10^p + copysign(0.5, x)) / 10^p, which rounds a negative -x.x5 away from zero and
 *   shifts other negatives too: -15.59 -> -15.7 at 1 decimal).
 * - Flesch reading ease: 206.835 - 1.015 * ASL - 84.6 * ASW, rounded to 2 decimals.
 * - Flesch-Kincaid grade: 0.39 * ASL + 11.8 * ASW - 15.59, rounded to 1 decimal.
 * - Coleman-Liau: 0.058 * L - 0.296 * S - 15.8 with L = round2(round2(letters / words) * 100) and
 *   S = round2(round2(sentences / words) * 100), rounded to 2 decimals (0.058, not the
 *   textbook 0.0588). Letters are the non-whitespace characters left after punctuation removal.
 * - Dale-Chall: difficult words are the DISTINCT lowercase tokens of [\w='‘’]+ that are not in
 *   the easy-word list (no syllable minimum); percent difficult = 100 - (words - difficult) /
 *   words * 100 with `words` from lexicon_count, score = 0.1579 * PDW + 0.0496 * ASL, plus 3.6365
 *   when PDW > 5, rounded to 2 decimals. Texts with no words score 0.
 */

export interface ReadabilityScores {
  fkgl: number;
  dcrs: number;
  cli: number;
  fre: number;
}

/**
 * Python's str.isspace() characters, which Python's \s and str.split() use. JavaScript's \s
 * differs: it lacks \x1c-\x1f and \x85, and adds \ufeff.
 */
const PY_SPACE = '\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const PUNCTUATION = new RegExp(`[^\\p{L}\\p{N}_${PY_SPACE}]`, 'gu');
const WHITESPACE = new RegExp(`[${PY_SPACE}]+`, 'u');
const WHITESPACE_GLOBAL = new RegExp(`[${PY_SPACE}]`, 'gu');
const WORD_CHAR = /[\p{L}\p{N}_]/u;
const DALE_CHALL_TOKEN = /[\p{L}\p{N}_='\u2018\u2019]+/gu;
const SENTENCE_END = new Set(['.', '!', '?']);

/** textstat's _legacy_round: floor(x * 10^p + copysign(0.5, x)) / 10^p. */
export function legacyRound(x: number, points = 0): number {
  const p = 10 ** points;
  const half = x < 0 || Object.is(x, -0) ? -0.5 : 0.5;
  return Math.floor(x * p + half) / p;
}

export function removePunctuation(text: string): string {
  return text.replace(PUNCTUATION, '');
}

function splitWords(text: string): string[] {
  return text.split(WHITESPACE).filter((word) => word !== '');
}

export function lexiconCount(text: string): number {
  return splitWords(removePunctuation(text)).length;
}

/** Returns the pieces of Python's re.findall(r'\b[^.!?]+[.!?]*', text), with Unicode word boundaries. */
export function textstatSentencePieces(text: string): string[] {
  const chars = Array.from(text);
  const isWord = (i: number): boolean => i >= 0 && i < chars.length && WORD_CHAR.test(chars[i]);
  const pieces: string[] = [];
  let i = 0;
  while (i < chars.length) {
    const atBoundary = isWord(i - 1) !== isWord(i);
    if (!atBoundary || SENTENCE_END.has(chars[i])) {
      i++;
      continue;
    }
    let j = i;
    while (j < chars.length && !SENTENCE_END.has(chars[j])) j++;
    while (j < chars.length && SENTENCE_END.has(chars[j])) j++;
    pieces.push(chars.slice(i, j).join(''));
    i = j;
  }
  return pieces;
}

export function sentenceCount(text: string): number {
  const pieces = textstatSentencePieces(text);
  const ignored = pieces.filter((piece) => lexiconCount(piece) <= 2).length;
  return Math.max(1, pieces.length - ignored);
}

export function letterCount(text: string): number {
  return Array.from(removePunctuation(text.replace(WHITESPACE_GLOBAL, ''))).length;
}

export class Readability {
  constructor(
    private readonly hyphenation: HyphenationDictionary,
    private readonly easyWords: ReadonlySet<string>,
  ) {}

  syllableCount(text: string): number {
    let count = 0;
    for (const word of splitWords(removePunctuation(text.toLowerCase()))) {
      count += this.hyphenation.positions(word, 2, 2).length + 1;
    }
    return count;
  }

  /** Counts the distinct lowercase [\w='‘’]+ tokens missing from the easy-word list. */
  difficultWords(text: string): number {
    const tokens = new Set(text.toLowerCase().match(DALE_CHALL_TOKEN) ?? []);
    let count = 0;
    for (const token of tokens) if (!this.easyWords.has(token)) count++;
    return count;
  }

  averageSentenceLength(text: string): number {
    return legacyRound(lexiconCount(text) / sentenceCount(text), 1);
  }

  averageSyllablesPerWord(text: string): number {
    const words = lexiconCount(text);
    return words === 0 ? 0 : legacyRound(this.syllableCount(text) / words, 1);
  }

  fleschReadingEase(text: string): number {
    return legacyRound(206.835 - 1.015 * this.averageSentenceLength(text) - 84.6 * this.averageSyllablesPerWord(text), 2);
  }

  fleschKincaidGrade(text: string): number {
    return legacyRound(0.39 * this.averageSentenceLength(text) + 11.8 * this.averageSyllablesPerWord(text) - 15.59, 1);
  }

  colemanLiauIndex(text: string): number {
    const words = lexiconCount(text);
    const lettersPerWord = words === 0 ? 0 : legacyRound(letterCount(text) / words, 2);
    const sentencesPerWord = words === 0 ? 0 : legacyRound(sentenceCount(text) / words, 2);
    const letters = legacyRound(lettersPerWord * 100, 2);
    const sentences = legacyRound(sentencesPerWord * 100, 2);
    return legacyRound(0.058 * letters - 0.296 * sentences - 15.8, 2);
  }

  daleChallReadabilityScore(text: string): number {
    const words = lexiconCount(text);
    if (words === 0) return 0;
    const perEasyWords = ((words - this.difficultWords(text)) / words) * 100;
    const perDifficultWords = 100 - perEasyWords;
    let score = 0.1579 * perDifficultWords + 0.0496 * this.averageSentenceLength(text);
    if (perDifficultWords > 5) score += 3.6365;
    return legacyRound(score, 2);
  }

  scores(text: string): ReadabilityScores {
    return {
      fkgl: this.fleschKincaidGrade(text),
      dcrs: this.daleChallReadabilityScore(text),
      cli: this.colemanLiauIndex(text),
      fre: this.fleschReadingEase(text),
    };
  }
}

/**
 * Loads the easy-word list of the `dale-chall` npm package (New Dale-Chall, 1995), the list
 * textstat ships as resources/en/easy_words.txt.
 * NOTE: the npm list may contain one word more than textstat's, which would count as easy here
 * and as difficult in textstat. That word has not been identified. The reported Dale-Chall means of
 * two BioLaySumm systems are reproduced exactly, so it did not occur in their outputs.
 */
export async function loadDaleChallEasyWords(): Promise<Set<string>> {
  const module = (await import('dale-chall')) as { daleChall: string[] };
  return new Set(module.daleChall);
}

let shared: Promise<Readability> | undefined;

/** Loads a Readability on Debian's hyph_en_US.dic and the Dale-Chall list, once per process for the default file. */
export function loadReadability(dictionaryFile: string = DEFAULT_EN_US_DICTIONARY): Promise<Readability> {
  if (dictionaryFile !== DEFAULT_EN_US_DICTIONARY) {
    return loadDaleChallEasyWords().then((easy) => new Readability(HyphenationDictionary.load(dictionaryFile), easy));
  }
  shared ??= loadDaleChallEasyWords()
    .then((easy) => new Readability(HyphenationDictionary.load(dictionaryFile), easy))
    .catch((error: unknown) => {
      shared = undefined;
      throw error;
    });
  return shared;
}

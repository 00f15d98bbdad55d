import * as fs from 'node:fs';

/**
 * Liang hyphenation with a hunspell/LibreOffice `hyph_*.dic` pattern file, following Pyphen
 * (0.13-0.15): the same pattern parsing, the same "max of overlapping digits, odd means a break"
 * rule, and the same left/right minimums applied to the word length. textstat 0.7.4 counts a
 * word's syllables as the number of these positions plus one, with `Pyphen(lang='en_US')`, whose
 * minimums are left=2 and right=2 (Pyphen ignores the file's LEFTHYPHENMIN/RIGHTHYPHENMIN lines).
 */

export const DEFAULT_EN_US_DICTIONARY = '/usr/share/hyphen/hyph_en_US.dic';

interface Pattern {
  offset: number;
  values: number[];
}

export class HyphenationDictionary {
  private readonly patterns = new Map<string, Pattern>();
  private readonly maxLength: number;
  private readonly cache = new Map<string, number[]>();

  /** Parses the text of a hyph_*.dic file whose first line names its encoding. */
  constructor(text: string, source = '<string>') {
    const lines = text.split(/\r?\n/);
    for (let lineIndex = 1; lineIndex < lines.length; lineIndex++) {
      const line = lines[lineIndex].trim();
      if (line === '' || /^(%|#|LEFTHYPHENMIN|RIGHTHYPHENMIN|COMPOUNDLEFTHYPHENMIN|COMPOUNDRIGHTHYPHENMIN)/.test(line)) {
        continue;
      }
      // NOTE: non-standard hyphenation ("pattern/change=...") is rare and absent from en_US; the
      // alternative part is dropped and only the break digits are kept.
      const patternText = line
        .replace(/\^\^([0-9a-f]{2})/g, (_, hex: string) => String.fromCodePoint(parseInt(hex, 16)))
        .split('/')[0];
      this.addPattern(patternText);
    }
    if (this.patterns.size === 0) {
      throw new Error(`Hyphenation dictionary ${source} contains no patterns; expected a hunspell hyph_*.dic file.`);
    }
    this.maxLength = Math.max(...[...this.patterns.keys()].map((key) => Array.from(key).length));
  }

  /** Reads a hyph_*.dic file; the default is the en_US file from Debian's hyphen-en-us package. */
  static load(file: string = DEFAULT_EN_US_DICTIONARY): HyphenationDictionary {
    if (!fs.existsSync(file)) {
      throw new Error(
        `Hyphenation dictionary not found: ${file}. Install it with "apt-get install hyphen-en-us" ` +
          '(Debian package hyphen-en-us), or pass the path of another hunspell hyph_en_US.dic.',
      );
    }
    return new HyphenationDictionary(fs.readFileSync(file, 'utf8'), file);
  }

  /** Splits "a1b2c" into letters "abc" and the digit before each letter plus one after the last. */
  private addPattern(text: string): void {
    const letters: string[] = [];
    const values: number[] = [];
    let pendingDigit = 0;
    for (const ch of Array.from(text)) {
      if (ch >= '0' && ch <= '9') {
        pendingDigit = Number(ch);
      } else {
        values.push(pendingDigit);
        letters.push(ch);
        pendingDigit = 0;
      }
    }
    values.push(pendingDigit);
    if (Math.max(...values) === 0) return;

    let start = 0;
    let end = values.length;
    while (values[start] === 0) start++;
    while (values[end - 1] === 0) end--;
    this.patterns.set(letters.join(''), { offset: start, values: values.slice(start, end) });
  }

  /** Break positions (in code points) of the lowercased word, before any left/right minimum. */
  private rawPositions(word: string): number[] {
    const lower = word.toLowerCase();
    const cached = this.cache.get(lower);
    if (cached !== undefined) return cached;

    const pointed = ['.', ...Array.from(lower), '.'];
    const references = new Array<number>(pointed.length + 1).fill(0);
    for (let i = 0; i < pointed.length - 1; i++) {
      let key = '';
      const stop = Math.min(i + this.maxLength, pointed.length);
      for (let j = i + 1; j <= stop; j++) {
        key += pointed[j - 1];
        const pattern = this.patterns.get(key);
        if (pattern === undefined) continue;
        for (let k = 0; k < pattern.values.length; k++) {
          const at = i + pattern.offset + k;
          if (pattern.values[k] > references[at]) references[at] = pattern.values[k];
        }
      }
    }
    const positions: number[] = [];
    for (let i = 0; i < references.length; i++) {
      if (references[i] % 2 === 1) positions.push(i - 1);
    }
    this.cache.set(lower, positions);
    return positions;
  }

  /** Pyphen's `Pyphen(left, right).positions(word)`: breaks with left <= i <= len(word) - right. */
  positions(word: string, left = 2, right = 2): number[] {
    const maxPosition = Array.from(word).length - right;
    return this.rawPositions(word).filter((i) => i >= left && i <= maxPosition);
  }
}

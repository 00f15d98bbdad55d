import { porterStem } from './porter-stemmer';

/**
 * Tokenizes as rouge_score 0.1.2's DefaultTokenizer: lowercase, every character outside a-z and
 * 0-9 becomes a space, split on whitespace, and with `useStemmer` the NLTK Porter stem of each
 * token longer than 3 characters (shorter tokens are kept as they are).
 */
export function rougeTokenize(text: string, useStemmer: boolean, stemCache?: Map<string, string>): string[] {
  const tokens = text.toLowerCase().split(/[^a-z0-9]+/).filter((token) => token !== '');
  if (!useStemmer) return tokens;
  return tokens.map((token) => (token.length > 3 ? cachedStem(token, stemCache) : token));
}

function cachedStem(token: string, cache: Map<string, string> | undefined): string {
  if (cache === undefined) return porterStem(token);
  let stem = cache.get(token);
  if (stem === undefined) {
    stem = porterStem(token);
    cache.set(token, stem);
  }
  return stem;
}

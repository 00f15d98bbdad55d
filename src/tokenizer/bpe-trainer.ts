import * as fs from 'node:fs';
import * as path from 'node:path';

import type { ProgressCallback } from '../progress';

/**
 * Byte-level BPE training in the GPT-2 style, saved as a Hugging Face tokenizer.json.
 *
 * NOTE: written here because no pure-JS BPE trainer was found on npm: @huggingface/tokenizers
 * (0.2.0) only encodes, and the native `tokenizers` binding depends on prebuilt platform binaries.
 */

export interface SpecialTokens {
  bos: string;
  eos: string;
  pad: string;
}

export const DEFAULT_SPECIAL_TOKENS: SpecialTokens = {
  bos: '<|begin_of_text|>',
  eos: '<|end_of_text|>',
  pad: '<|pad|>',
};

export interface BpeTrainOptions {
  /** Final vocabulary size, special tokens and the 256 byte tokens included. */
  vocabSize: number;
  specialTokens?: Partial<SpecialTokens>;
  /** A pair seen fewer times than this is never merged, even if the vocabulary is not full. */
  minFrequency?: number;
  /** Folder that receives tokenizer.json, tokenizer_config.json and special_tokens_map.json. */
  outDir?: string;
  modelMaxLength?: number;
  onProgress?: ProgressCallback;
}

export interface BpeTrainResult {
  /** Token string → id, in tokenizer.json's byte-level alphabet ("Ġthe"). */
  vocab: Map<string, number>;
  /** Merges in rank order, each as [left, right] token strings. */
  merges: [string, string][];
  specialTokens: SpecialTokens;
  tokenizerJson: object;
  tokenizerConfig: object;
  /** Statistics of the run, for logs and the run summary. */
  stats: { words: number; uniqueWords: number; merges: number; seconds: number; stoppedEarly: boolean };
}

/** The pre-tokenizer split of GPT-2 (and of the ByteLevel pre-tokenizer with use_regex: true). */
const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/**
 * GPT-2's reversible map from the 256 byte values to printable unicode characters: printable
 * Latin-1 bytes map to themselves, the other 68 to U+0100 onward (space becomes "Ġ").
 */
export function bytesToUnicode(): string[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const table = new Array<string>(256);
  const isPrintable = new Set(printable);
  let next = 0;
  for (let b = 0; b < 256; b++) {
    table[b] = isPrintable.has(b) ? String.fromCharCode(b) : String.fromCharCode(256 + next++);
  }
  return table;
}

/** Max-heap of candidate pairs: higher count first, then lower left id, then lower right id. */
class PairHeap {
  private counts: number[] = [];
  private lefts: number[] = [];
  private rights: number[] = [];

  get size(): number {
    return this.counts.length;
  }

  private before(i: number, j: number): boolean {
    if (this.counts[i] !== this.counts[j]) return this.counts[i] > this.counts[j];
    if (this.lefts[i] !== this.lefts[j]) return this.lefts[i] < this.lefts[j];
    return this.rights[i] < this.rights[j];
  }

  private swap(i: number, j: number): void {
    [this.counts[i], this.counts[j]] = [this.counts[j], this.counts[i]];
    [this.lefts[i], this.lefts[j]] = [this.lefts[j], this.lefts[i]];
    [this.rights[i], this.rights[j]] = [this.rights[j], this.rights[i]];
  }

  push(count: number, left: number, right: number): void {
    this.counts.push(count);
    this.lefts.push(left);
    this.rights.push(right);
    let i = this.counts.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  pop(): { count: number; left: number; right: number } {
    const top = { count: this.counts[0], left: this.lefts[0], right: this.rights[0] };
    const last = this.counts.length - 1;
    this.swap(0, last);
    this.counts.pop();
    this.lefts.pop();
    this.rights.pop();
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let best = i;
      if (l < this.counts.length && this.before(l, best)) best = l;
      if (r < this.counts.length && this.before(r, best)) best = r;
      if (best === i) break;
      this.swap(i, best);
      i = best;
    }
    return top;
  }
}

// Token ids stay below 2^21, so a pair packs into one exact double: left * 2^21 + right.
const PAIR_BASE = 2 ** 21;
const pairKey = (left: number, right: number): number => left * PAIR_BASE + right;

/** Counts each distinct pre-token (GPT-2 split) across the texts. */
function countWords(texts: Iterable<string>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const text of texts) {
    for (const match of text.matchAll(GPT2_SPLIT)) {
      const word = match[0];
      counts.set(word, (counts.get(word) ?? 0) + 1);
    }
  }
  return counts;
}

/**
 * Trains a byte-level BPE tokenizer: texts are split with GPT-2's pre-tokenizer regex, each piece
 * becomes its UTF-8 bytes, and the most frequent adjacent pair is merged until the vocabulary has
 * `vocabSize` tokens. Ties between equally frequent pairs go to the pair whose left, then right,
 * token was created first, so a run is reproducible. Pair counts are updated incrementally and
 * the next pair comes from a heap with stale entries skipped, which keeps ~1 MB of text to seconds.
 *
 * Ids: special tokens first (bos, eos, pad), then the 256 bytes in byte order, then the merged tokens.
 * With `outDir`, writes tokenizer.json (BPE model, ByteLevel pre-tokenizer and decoder, BOS added by
 * a TemplateProcessing post-processor), tokenizer_config.json and special_tokens_map.json.
 */
export function trainByteLevelBpe(texts: Iterable<string>, options: BpeTrainOptions): BpeTrainResult {
  const started = Date.now();
  const specialTokens: SpecialTokens = { ...DEFAULT_SPECIAL_TOKENS, ...options.specialTokens };
  const specials = [specialTokens.bos, specialTokens.eos, specialTokens.pad];
  if (new Set(specials).size !== specials.length) throw new Error(`Special tokens must differ, got bos=${specialTokens.bos} eos=${specialTokens.eos} pad=${specialTokens.pad}.`);
  const baseSize = specials.length + 256;
  if (!Number.isInteger(options.vocabSize) || options.vocabSize < baseSize || options.vocabSize >= PAIR_BASE) {
    throw new Error(`vocabSize must be an integer from ${baseSize} (3 special + 256 byte tokens) to ${PAIR_BASE - 1}, got ${options.vocabSize}.`);
  }
  const minFrequency = options.minFrequency ?? 2;
  const onProgress = options.onProgress;

  // Step 1: the initial vocabulary.
  const byteChars = bytesToUnicode();
  const tokens: string[] = [...specials, ...byteChars];
  const tokenIds = new Map(tokens.map((token, id) => [token, id] as [string, number]));
  const byteOffset = specials.length;

  // Step 2: distinct words as byte-token sequences, with their counts.
  const wordCounts = countWords(texts);
  const encoder = new TextEncoder();
  const words: number[][] = [];
  const weights: number[] = [];
  let totalWords = 0;
  for (const [word, count] of wordCounts) {
    words.push(Array.from(encoder.encode(word), (b) => b + byteOffset));
    weights.push(count);
    totalWords += count;
  }

  // Step 3: pair counts and, per pair, the words it occurs in.
  const pairCounts = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  const addPair = (left: number, right: number, wordIndex: number, delta: number): void => {
    const key = pairKey(left, right);
    pairCounts.set(key, (pairCounts.get(key) ?? 0) + delta);
    if (delta > 0) {
      let where = pairWords.get(key);
      if (!where) pairWords.set(key, (where = new Set()));
      where.add(wordIndex);
    }
  };
  words.forEach((symbols, w) => {
    for (let i = 0; i + 1 < symbols.length; i++) addPair(symbols[i], symbols[i + 1], w, weights[w]);
  });
  const heap = new PairHeap();
  for (const [key, count] of pairCounts) heap.push(count, Math.floor(key / PAIR_BASE), key % PAIR_BASE);

  // Step 4: merge the best pair until the vocabulary is full.
  const merges: [number, number][] = [];
  const targetTokens = options.vocabSize - tokens.length;
  onProgress?.({ kind: 'start', task: 'bpe-train', total: targetTokens, unit: 'tokens' });
  let stoppedEarly = false;
  while (tokens.length < options.vocabSize) {
    if (heap.size === 0) {
      stoppedEarly = true;
      break;
    }
    const top = heap.pop();
    const key = pairKey(top.left, top.right);
    const current = pairCounts.get(key) ?? 0;
    // A stale heap entry: the count changed after it was pushed, and the fresh entry is elsewhere.
    if (current !== top.count) continue;
    if (current < minFrequency) {
      stoppedEarly = true;
      break;
    }

    // Two merges can spell the same string ("a"+"bc" and "ab"+"c"). The second one then reuses the
    // first one's id, so ids stay unique in tokenizer.json and the vocabulary has no gaps.
    const mergedString = tokens[top.left] + tokens[top.right];
    let merged = tokenIds.get(mergedString);
    if (merged === undefined) {
      merged = tokens.length;
      tokens.push(mergedString);
      tokenIds.set(mergedString, merged);
    }
    merges.push([top.left, top.right]);
    const changed = new Set<number>();

    for (const w of pairWords.get(key) ?? []) {
      const symbols = words[w];
      const weight = weights[w];
      const out: number[] = [];
      let i = 0;
      while (i < symbols.length) {
        if (i + 1 < symbols.length && symbols[i] === top.left && symbols[i + 1] === top.right) {
          const previous = out.length > 0 ? out[out.length - 1] : -1;
          const next = i + 2 < symbols.length ? symbols[i + 2] : -1;
          addPair(top.left, top.right, w, -weight);
          if (previous >= 0) {
            addPair(previous, top.left, w, -weight);
            addPair(previous, merged, w, weight);
            changed.add(pairKey(previous, top.left)).add(pairKey(previous, merged));
          }
          if (next >= 0) {
            addPair(top.right, next, w, -weight);
            addPair(merged, next, w, weight);
            changed.add(pairKey(top.right, next)).add(pairKey(merged, next));
          }
          out.push(merged);
          i += 2;
        } else {
          out.push(symbols[i]);
          i += 1;
        }
      }
      words[w] = out;
    }
    pairCounts.delete(key);
    pairWords.delete(key);
    for (const changedKey of changed) {
      const count = pairCounts.get(changedKey) ?? 0;
      if (count > 0) heap.push(count, Math.floor(changedKey / PAIR_BASE), changedKey % PAIR_BASE);
    }

    if (merges.length % 256 === 0) onProgress?.({ kind: 'update', task: 'bpe-train', done: tokens.length - baseSize, total: targetTokens });
  }

  const seconds = (Date.now() - started) / 1000;
  onProgress?.({ kind: 'end', task: 'bpe-train', done: tokens.length - baseSize, seconds });

  const vocab = tokenIds;
  const mergeStrings = merges.map(([left, right]) => [tokens[left], tokens[right]] as [string, string]);
  const tokenizerJson = buildTokenizerJson(vocab, mergeStrings, specialTokens);
  const tokenizerConfig = buildTokenizerConfig(specialTokens, options.modelMaxLength ?? 1024);
  const result: BpeTrainResult = {
    vocab,
    merges: mergeStrings,
    specialTokens,
    tokenizerJson,
    tokenizerConfig,
    stats: { words: totalWords, uniqueWords: words.length, merges: merges.length, seconds, stoppedEarly },
  };
  if (options.outDir) saveBpeTokenizer(result, options.outDir);
  return result;
}

function addedToken(id: number, content: string): object {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

function buildTokenizerJson(vocab: Map<string, number>, merges: [string, string][], specialTokens: SpecialTokens): object {
  const bosId = vocab.get(specialTokens.bos) as number;
  const specials = [specialTokens.bos, specialTokens.eos, specialTokens.pad];
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map((token) => addedToken(vocab.get(token) as number, token)),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: specialTokens.bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: specialTokens.bos, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: specialTokens.bos, type_id: 1 } },
        { Sequence: { id: 'B', type_id: 1 } },
      ],
      special_tokens: { [specialTokens.bos]: { id: specialTokens.bos, ids: [bosId], tokens: [specialTokens.bos] } },
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: Object.fromEntries(vocab),
      merges: merges.map(([left, right]) => `${left} ${right}`),
    },
  };
}

function buildTokenizerConfig(specialTokens: SpecialTokens, modelMaxLength: number): object {
  const specials = [specialTokens.bos, specialTokens.eos, specialTokens.pad];
  return {
    add_bos_token: true,
    add_eos_token: false,
    bos_token: specialTokens.bos,
    eos_token: specialTokens.eos,
    pad_token: specialTokens.pad,
    clean_up_tokenization_spaces: false,
    model_max_length: modelMaxLength,
    tokenizer_class: 'PreTrainedTokenizerFast',
    added_tokens_decoder: Object.fromEntries(
      specials.map((token, id) => [String(id), { content: token, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true }]),
    ),
  };
}

function writeJsonAtomic(file: string, value: object): void {
  const temp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(temp, JSON.stringify(value, null, 2) + '\n');
  fs.renameSync(temp, file);
}

/** Writes tokenizer.json, tokenizer_config.json and special_tokens_map.json into `outDir`. */
export function saveBpeTokenizer(result: BpeTrainResult, outDir: string): void {
  fs.mkdirSync(outDir, { recursive: true });
  writeJsonAtomic(path.join(outDir, 'tokenizer.json'), result.tokenizerJson);
  writeJsonAtomic(path.join(outDir, 'tokenizer_config.json'), result.tokenizerConfig);
  const { bos, eos, pad } = result.specialTokens;
  writeJsonAtomic(path.join(outDir, 'special_tokens_map.json'), { bos_token: bos, eos_token: eos, pad_token: pad });
}

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';

import { loadCorpus } from '../src/data/elife';
import { bytesToUnicode, trainByteLevelBpe } from '../src/tokenizer/bpe-trainer';
import { HfTokenizer } from '../src/tokenizer/hf-tokenizer';
import { sharedPath } from './helpers/shared';

const corpus = loadCorpus(sharedPath('data', 'elife'));

/** About 1 MB of training text: train abstracts, sections and summaries, in file order. */
function trainingTexts(maxChars: number): string[] {
  const texts: string[] = [];
  let chars = 0;
  for (const article of corpus.splits.train!.articles) {
    for (const text of [article.abstract, article.summary, ...article.sections.map((section) => section.text)]) {
      if (!text || chars >= maxChars) continue;
      texts.push(text);
      chars += text.length;
    }
  }
  return texts;
}

const heldOut = [
  ...corpus.splits.val!.pairs.slice(0, 5).map((pair) => pair.abstract),
  'The α-helix binds Ca²⁺ with Kd ≈ 5 μM; β-catenin and γ-tubulin (Δ = 0.3) — naïve Zürich café.',
  '日本語のテキスト 🧬🦠 \t tabs\nand  double  spaces ',
];

let savedDir: string | null = null;
let trainSeconds = 0;

async function trained(): Promise<HfTokenizer> {
  if (!savedDir) {
    savedDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lora-lab-bpe-'));
    const started = process.hrtime.bigint();
    trainByteLevelBpe(trainingTexts(1_000_000), { vocabSize: 4096, outDir: savedDir });
    trainSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  }
  return HfTokenizer.fromDir(savedDir);
}

test('trainByteLevelBpe 1 MB in seconds', async (t) => {
  await trained();
  t.diagnostic(`trained 4096-token BPE on ~1 MB of eLife text in ${trainSeconds.toFixed(2)} s`);
  assert.ok(trainSeconds < 10, `training took ${trainSeconds} s`);
});

test('trainByteLevelBpe tie-break order', () => {
  // Hand-derived: every pair occurs twice, so the lowest ids win. "Ġ" (byte 0x20) precedes "a",
  // then (a, b) precedes (Ġc, d) because the merged token Ġc has a higher id than "a".
  const result = trainByteLevelBpe(['ab cd', 'ab cd'], { vocabSize: 3 + 256 + 3 });
  assert.deepEqual(result.merges, [['Ġ', 'c'], ['a', 'b'], ['Ġc', 'd']]);
  assert.equal(result.vocab.get('Ġcd'), 261);
});

test('trainByteLevelBpe deterministic', () => {
  const texts = trainingTexts(100_000);
  const first = trainByteLevelBpe(texts, { vocabSize: 800 });
  const second = trainByteLevelBpe([...texts], { vocabSize: 800 });
  assert.deepEqual(second.merges, first.merges);
  assert.equal(first.vocab.size, 800);
});

test('trainByteLevelBpe rejects small vocab', () => {
  assert.throws(() => trainByteLevelBpe(['x'], { vocabSize: 100 }), /vocabSize must be an integer from 259/);
});

test('BPE tokenizer round trip held-out', async () => {
  const tokenizer = await trained();
  for (const text of heldOut) {
    const ids = tokenizer.encode(text);
    assert.equal(ids[0], tokenizer.bosTokenId);
    assert.ok(ids.every((id) => Number.isInteger(id) && id >= 0 && id < tokenizer.vocabSize));
    assert.equal(tokenizer.decode(ids, { skipSpecialTokens: true }), text);
  }
});

test('BPE tokenizer special tokens', async () => {
  const tokenizer = await trained();
  assert.equal(tokenizer.vocabSize, 4096);
  assert.equal(tokenizer.bosTokenId, 0);
  assert.deepEqual(tokenizer.eosTokenIds, [1]);
  assert.equal(tokenizer.padTokenId, 2);
  assert.deepEqual(tokenizer.encode('<|end_of_text|>', { addSpecialTokens: false }), [1]);
  assert.equal(tokenizer.decode([0, 1, 2]), '<|begin_of_text|><|end_of_text|><|pad|>');
});

test('BPE tokenizer every byte encodable', async () => {
  const tokenizer = await trained();
  const table = bytesToUnicode();
  assert.equal(new Set(table).size, 256);
  for (let b = 0; b < 256; b++) assert.equal(tokenizer.tokenToId(table[b]), 3 + b, `byte ${b}`);

  // Every code point of the first 256 (controls included) plus multi-byte characters of 2, 3 and 4 bytes.
  let text = '';
  for (let code = 0; code < 256; code++) text += String.fromCodePoint(code);
  text += 'Ωж中😀';
  const ids = tokenizer.encode(text, { addSpecialTokens: false });
  assert.equal(tokenizer.decode(ids), text);
});

/** Independent BPE encoder: GPT-2 split, byte-to-unicode map, then lowest-rank merge first, as tokenizer.json's merges define it. */
function referenceEncode(text: string, vocab: Record<string, number>, merges: string[]): number[] {
  const rank = new Map(merges.map((merge, index) => [merge, index]));
  const table = bytesToUnicode();
  const split = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;
  const ids: number[] = [];
  for (const [piece] of text.matchAll(split)) {
    let symbols = Array.from(Buffer.from(piece, 'utf8'), (byte) => table[byte]);
    for (;;) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < symbols.length; i++) {
        const r = rank.get(`${symbols[i]} ${symbols[i + 1]}`);
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0) break;
      const [left, right] = merges[bestRank].split(' ');
      const next: string[] = [];
      for (let i = 0; i < symbols.length; i++) {
        if (i + 1 < symbols.length && symbols[i] === left && symbols[i + 1] === right) {
          next.push(left + right);
          i++;
        } else next.push(symbols[i]);
      }
      symbols = next;
    }
    ids.push(...symbols.map((symbol) => vocab[symbol]));
  }
  return ids;
}

test('BPE tokenizer applies saved merges', async () => {
  const tokenizer = await trained();
  const file = JSON.parse(fs.readFileSync(path.join(savedDir!, 'tokenizer.json'), 'utf8')) as {
    model: { type: string; vocab: Record<string, number>; merges: string[] };
  };
  assert.equal(file.model.type, 'BPE');
  const ids = Object.values(file.model.vocab).sort((a, b) => a - b);
  assert.deepEqual(ids, Array.from({ length: 4096 }, (_, id) => id));
  assert.ok(file.model.merges.length >= 4096 - 259);
  for (const merge of file.model.merges) assert.ok(merge.replace(' ', '') in file.model.vocab, merge);
  for (const text of heldOut) {
    assert.deepEqual(tokenizer.encode(text, { addSpecialTokens: false }), referenceEncode(text, file.model.vocab, file.model.merges));
  }
});

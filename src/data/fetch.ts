import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import type { ProgressCallback } from '../progress';
import { type ElifeArticle, type LoadResult, loadSplitFile } from './elife';

/**
 * The BioLaySumm 2025 eLife dataset on the Hugging Face Hub (CC BY 4.0 texts): one parquet file per
 * split with columns article, summary, section_headings, keywords, year, title. Its validation split
 * is the Goldsack et al. (2022) val split; its test split has empty summaries.
 */
export const DEFAULT_ELIFE_URL = 'https://huggingface.co/datasets/BioLaySumm/BioLaySumm2025-eLife/resolve/main/data';

/**
 * Server layout of the corpus files.
 * - biolaysumm-parquet: {train,validation,test}-00000-of-00001.parquet, converted to train/val/test.jsonl.
 * - goldsack-json: train.json, val.json, test.json as in the Goldsack et al. (2022) release, stored as they are.
 * - jsonl: the JSON Lines files lora-lab reads (train.jsonl, val.jsonl, ...), stored as they are.
 * - auto: the first layout whose validation file the server has.
 */
export type ElifeLayout = 'biolaysumm-parquet' | 'goldsack-json' | 'jsonl';

interface RemoteFile {
  remote: string;
  local: string;
  required: boolean;
  convert: 'none' | 'parquet';
  split: string;
}

const LAYOUT_FILES: Record<ElifeLayout, RemoteFile[]> = {
  'biolaysumm-parquet': [
    { remote: 'train-00000-of-00001.parquet', local: 'train.jsonl', required: true, convert: 'parquet', split: 'train' },
    { remote: 'validation-00000-of-00001.parquet', local: 'val.jsonl', required: true, convert: 'parquet', split: 'val' },
    { remote: 'test-00000-of-00001.parquet', local: 'test.jsonl', required: false, convert: 'parquet', split: 'test' },
  ],
  'goldsack-json': [
    { remote: 'train.json', local: 'train.json', required: true, convert: 'none', split: 'train' },
    { remote: 'val.json', local: 'val.json', required: true, convert: 'none', split: 'val' },
    { remote: 'test.json', local: 'test.json', required: false, convert: 'none', split: 'test' },
  ],
  jsonl: [
    { remote: 'train.jsonl', local: 'train.jsonl', required: true, convert: 'none', split: 'train' },
    { remote: 'train_summaries_only.jsonl', local: 'train_summaries_only.jsonl', required: false, convert: 'none', split: 'train' },
    { remote: 'val.jsonl', local: 'val.jsonl', required: true, convert: 'none', split: 'val' },
    { remote: 'test.jsonl', local: 'test.jsonl', required: false, convert: 'none', split: 'test' },
    { remote: 'test_goldsack2022.jsonl', local: 'test_goldsack2022.jsonl', required: false, convert: 'none', split: 'test_goldsack2022' },
  ],
};

export interface FetchElifeOptions {
  /** Folder URL the split files sit under; defaults to ELIFE_URL, else DEFAULT_ELIFE_URL. */
  baseUrl?: string;
  outDir: string;
  layout?: ElifeLayout | 'auto';
  onProgress?: ProgressCallback;
  /** Time allowed without any received bytes before a request is abandoned. */
  timeoutMs?: number;
}

export interface FetchedFile {
  file: string;
  status: 'downloaded' | 'present' | 'not-on-server';
  records: number;
  skippedRecords: number;
}

export interface FetchElifeResult {
  baseUrl: string;
  layout: ElifeLayout;
  outDir: string;
  files: FetchedFile[];
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'ENETUNREACH', 'EHOSTUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

function offlineMessage(url: string, reason: string, outDir: string): string {
  return (
    `Could not download ${url} (${reason}). To use the corpus without the network, copy the split files ` +
    `(train.jsonl/val.jsonl/test.jsonl, or train.json/val.json/test.json from the Goldsack et al. 2022 release) into ${outDir}, ` +
    'or set ELIFE_DIR to a folder that holds them (LORA_LAB_SHARED/data/elife has a verified subset). ' +
    'To use a mirror, pass --url or set ELIFE_URL.'
  );
}

function networkReason(error: unknown): string | null {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code && NETWORK_CODES.has(cause.code)) return cause.code;
  if ((error as Error).name === 'TimeoutError' || (error as Error).name === 'AbortError') return 'timed out';
  if (error instanceof TypeError && (error as Error).message === 'fetch failed') return cause?.message ?? 'network error';
  return null;
}

function joinUrl(baseUrl: string, file: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/${file}`;
}

async function request(url: string, outDir: string, timeoutMs: number, method: 'GET' | 'HEAD' = 'GET'): Promise<Response> {
  try {
    return await fetch(url, { method, redirect: 'follow', signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    const reason = networkReason(error);
    if (reason) throw new Error(offlineMessage(url, reason, outDir));
    throw error;
  }
}

/** Streams the body of `response` into `file`, reporting bytes, and checks the length the server announced. */
async function download(response: Response, url: string, file: string, task: string, onProgress?: ProgressCallback): Promise<void> {
  const announced = Number(response.headers.get('content-length') ?? 0);
  const started = Date.now();
  let received = 0;
  onProgress?.({ kind: 'start', task, total: announced, unit: 'bytes' });
  const body = Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>);
  body.on('data', (chunk: Buffer) => {
    received += chunk.length;
    onProgress?.({ kind: 'update', task, done: received, total: Math.max(announced, received) });
  });
  await pipeline(body, fs.createWriteStream(file));
  if (announced > 0 && received !== announced) {
    throw new Error(`Download of ${url} is incomplete: received ${received} of ${announced} bytes. Run the command again.`);
  }
  onProgress?.({ kind: 'end', task, done: received, seconds: (Date.now() - started) / 1000 });
}

type ParquetRow = Record<string, unknown>;

function asStringList(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String);
  if (typeof value === 'string' && value.trim() !== '') return [value];
  return [];
}

/**
 * Converts one BioLaySumm row. Its `article` is the abstract followed by one line per section
 * ("\n"-separated), so line 1 is the abstract and the rest pair with `section_headings` by position
 * (a leading "Abstract" heading is dropped). Rows without an id get `biolaysumm2025-elife-SPLIT-NNN`,
 * numbered from 000 in file order with as many digits as `rowCount` needs (at least 3).
 *
 * NOTE: the BioLaySumm 2025 eLife dataset lists no id column (its features are article, summary,
 * section_headings, keywords, year, title), so fetched articles lack eLife ids and do not match ids
 * saved from other copies of the corpus.
 */
export function biolaysummRowToArticle(row: ParquetRow, split: string, index: number, rowCount: number): ElifeArticle {
  const lines = typeof row.article === 'string' ? row.article.split('\n').map((line) => line.trim()).filter(Boolean) : [];
  let headings = asStringList(row.section_headings);
  if (headings[0]?.toLowerCase() === 'abstract') headings = headings.slice(1);
  const year = row.year === null || row.year === undefined || row.year === '' ? null : Number(row.year);
  const text = (value: unknown): string | null => (typeof value === 'string' && value.trim() !== '' ? value.trim() : null);
  const digits = Math.max(3, String(Math.max(rowCount - 1, 0)).length);
  const id = text(row.id) ?? `biolaysumm2025-elife-${split}-${String(index).padStart(digits, '0')}`;
  return {
    id,
    year: year !== null && Number.isInteger(year) ? year : null,
    title: text(row.title),
    abstract: lines[0] ?? null,
    summary: text(row.summary),
    keywords: asStringList(row.keywords),
    headings,
    sections: lines.slice(1).map((sectionText, i) => ({ heading: headings[i] ?? '', text: sectionText })),
  };
}

async function convertParquet(parquetFile: string, jsonlFile: string, split: string): Promise<void> {
  const { asyncBufferFromFile, parquetReadObjects } = await import('hyparquet');
  const { compressors } = await import('hyparquet-compressors');
  const rows = (await parquetReadObjects({ file: await asyncBufferFromFile(parquetFile), compressors })) as ParquetRow[];
  const out = fs.createWriteStream(jsonlFile);
  rows.forEach((row, index) => out.write(JSON.stringify(biolaysummRowToArticle(row, split, index, rows.length)) + '\n'));
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
}

/** Parses a split file and throws when nothing valid is in it; returns what the loader saw. */
function verify(file: string, name: string, url: string): LoadResult {
  let result: LoadResult;
  try {
    result = loadSplitFile(file, { format: name.endsWith('.jsonl') ? 'jsonl' : 'json', name });
  } catch (error) {
    throw new Error(`Downloaded ${url} does not parse as an eLife split: ${(error as Error).message}`);
  }
  if (result.counts.kept === 0) {
    throw new Error(`Downloaded ${url} contains no valid eLife record (${result.counts.records} records, all invalid). Check --url and --layout.`);
  }
  return result;
}

async function detectLayout(baseUrl: string, outDir: string, timeoutMs: number): Promise<ElifeLayout> {
  for (const layout of ['biolaysumm-parquet', 'jsonl', 'goldsack-json'] as const) {
    const probe = LAYOUT_FILES[layout].find((file) => file.split === 'val') as RemoteFile;
    const response = await request(joinUrl(baseUrl, probe.remote), outDir, timeoutMs, 'HEAD');
    if (response.ok) return layout;
  }
  throw new Error(`No eLife validation file at ${baseUrl} (tried validation-00000-of-00001.parquet, val.jsonl, val.json). Check --url, or pass --layout.`);
}

/**
 * Downloads the public eLife corpus into `outDir`. Each file is written to a temporary name,
 * parsed and only then renamed, so a file under its final name is complete. The next run parses
 * such files again and skips their download. Offline, it throws an error that explains how to supply
 * the files by hand.
 */
export async function fetchElife(options: FetchElifeOptions): Promise<FetchElifeResult> {
  const baseUrl = options.baseUrl ?? process.env.ELIFE_URL ?? DEFAULT_ELIFE_URL;
  const outDir = path.resolve(options.outDir);
  const timeoutMs = options.timeoutMs ?? 60_000;
  const onProgress = options.onProgress;
  fs.mkdirSync(outDir, { recursive: true });

  let layout = options.layout ?? 'auto';
  if (layout === 'auto') layout = baseUrl === DEFAULT_ELIFE_URL ? 'biolaysumm-parquet' : await detectLayout(baseUrl, outDir, timeoutMs);

  const files: FetchedFile[] = [];
  for (const remote of LAYOUT_FILES[layout]) {
    const url = joinUrl(baseUrl, remote.remote);
    const target = path.join(outDir, remote.local);

    if (fs.existsSync(target)) {
      try {
        const present = verify(target, remote.local, target);
        files.push({ file: remote.local, status: 'present', records: present.counts.kept, skippedRecords: present.counts.skipped });
        onProgress?.({ kind: 'log', message: `${remote.local}: already present (${present.counts.kept} records), skipped` });
        continue;
      } catch {
        onProgress?.({ kind: 'log', message: `${remote.local}: present but invalid, downloading again` });
      }
    }

    const response = await request(url, outDir, timeoutMs);
    if (response.status === 404 && !remote.required) {
      await response.body?.cancel();
      files.push({ file: remote.local, status: 'not-on-server', records: 0, skippedRecords: 0 });
      onProgress?.({ kind: 'log', message: `${remote.local}: not on the server (optional), skipped` });
      continue;
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new Error(`Download of ${url} failed: HTTP ${response.status} ${response.statusText}. Check --url (ELIFE_URL) and --layout.`);
    }

    const suffix = `.part-${process.pid}`;
    const downloaded = path.join(outDir, `${remote.remote}${suffix}`);
    const converted = path.join(outDir, `${remote.local}${suffix}`);
    try {
      await download(response, url, downloaded, remote.local, onProgress);
      if (remote.convert === 'parquet') await convertParquet(downloaded, converted, remote.split);
      else fs.renameSync(downloaded, converted);
      const result = verify(converted, remote.local, url);
      if (result.counts.skipped > 0) {
        onProgress?.({ kind: 'log', message: `${remote.local}: ${result.counts.skipped} of ${result.counts.records} records invalid; \`lora-lab data stats\` lists them` });
      }
      fs.renameSync(converted, target);
      files.push({ file: remote.local, status: 'downloaded', records: result.counts.kept, skippedRecords: result.counts.skipped });
    } finally {
      fs.rmSync(downloaded, { force: true });
      fs.rmSync(converted, { force: true });
    }
  }
  return { baseUrl, layout, outDir, files };
}

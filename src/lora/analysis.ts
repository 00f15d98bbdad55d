import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Data, Layout } from 'plotly.js-dist-min';
import type { ModelConfig } from '../model/config';
import { SafetensorsFile } from '../model/safetensors';
import type { PlotlyFigure } from '../report/plotly';
import type { AdamW } from '../train/adamw';
import { ADAPTER_WEIGHTS_FILE, peftTensorName, readAdapterConfig } from './adapter';
import { loraScaling } from './config';
import type { LoraModel } from './inject';

/**
 * The arithmetic behind LoRA, for notebooks/02_lora_math.ipynb and docs/lora.md: parameter counts of
 * real architectures, training memory, the size of the update across ranks, and singular values of ΔW.
 */

// ---------------------------------------------------------------------------------------------
// Architectures and parameter counts

/** The part of a Llama-family config that fixes its parameter count. */
export type ArchitectureShape = Pick<
  ModelConfig,
  | 'vocabSize'
  | 'hiddenSize'
  | 'intermediateSize'
  | 'numHiddenLayers'
  | 'numAttentionHeads'
  | 'numKeyValueHeads'
  | 'headDim'
  | 'tieWordEmbeddings'
  | 'attentionBias'
>;

export interface ReferenceArchitecture {
  name: string;
  /** Hugging Face repository whose config.json the shape copies. */
  huggingFaceId: string;
  /** Total parameter count as the model card rounds it. */
  publishedParameters: string;
  shape: ArchitectureShape;
}

/**
 * The 1B, 3B and 7B models of the size comparison, with the values of their config.json files.
 * The 7B is Mistral 7B v0.1 (grouped-query attention, untied output head), not Llama 2 7B.
 */
export const REFERENCE_ARCHITECTURES: ReferenceArchitecture[] = [
  {
    name: 'Llama 3.2 1B',
    huggingFaceId: 'meta-llama/Llama-3.2-1B',
    publishedParameters: '1.24B',
    shape: {
      vocabSize: 128256,
      hiddenSize: 2048,
      intermediateSize: 8192,
      numHiddenLayers: 16,
      numAttentionHeads: 32,
      numKeyValueHeads: 8,
      headDim: 64,
      tieWordEmbeddings: true,
      attentionBias: false,
    },
  },
  {
    name: 'Llama 3.2 3B',
    huggingFaceId: 'meta-llama/Llama-3.2-3B',
    publishedParameters: '3.21B',
    shape: {
      vocabSize: 128256,
      hiddenSize: 3072,
      intermediateSize: 8192,
      numHiddenLayers: 28,
      numAttentionHeads: 24,
      numKeyValueHeads: 8,
      headDim: 128,
      tieWordEmbeddings: true,
      attentionBias: false,
    },
  },
  {
    name: 'Mistral 7B v0.1',
    huggingFaceId: 'mistralai/Mistral-7B-v0.1',
    publishedParameters: '7.24B',
    shape: {
      vocabSize: 32000,
      hiddenSize: 4096,
      intermediateSize: 14336,
      numHiddenLayers: 32,
      numAttentionHeads: 32,
      numKeyValueHeads: 8,
      headDim: 128,
      tieWordEmbeddings: false,
      attentionBias: false,
    },
  },
];

/** The seven projections of one decoder layer, PEFT module names with [in, out] features. */
export interface ProjectionShape {
  module: 'q_proj' | 'k_proj' | 'v_proj' | 'o_proj' | 'gate_proj' | 'up_proj' | 'down_proj';
  inFeatures: number;
  outFeatures: number;
}

export function layerProjections(shape: ArchitectureShape): ProjectionShape[] {
  const { hiddenSize: C, intermediateSize: F, headDim: D, numAttentionHeads: H, numKeyValueHeads: Hkv } = shape;
  return [
    { module: 'q_proj', inFeatures: C, outFeatures: H * D },
    { module: 'k_proj', inFeatures: C, outFeatures: Hkv * D },
    { module: 'v_proj', inFeatures: C, outFeatures: Hkv * D },
    { module: 'o_proj', inFeatures: H * D, outFeatures: C },
    { module: 'gate_proj', inFeatures: C, outFeatures: F },
    { module: 'up_proj', inFeatures: C, outFeatures: F },
    { module: 'down_proj', inFeatures: F, outFeatures: C },
  ];
}

/**
 * Counts every parameter of the model: embedding, per layer the seven projections (plus q/k/v biases
 * where the config has them) and two RMSNorm weights, the final norm, and the output head unless it
 * is tied to the embedding.
 */
export function baseParameterCount(shape: ArchitectureShape): number {
  let perLayer = 2 * shape.hiddenSize;
  for (const projection of layerProjections(shape)) {
    perLayer += projection.inFeatures * projection.outFeatures;
    if (shape.attentionBias && ['q_proj', 'k_proj', 'v_proj'].includes(projection.module)) perLayer += projection.outFeatures;
  }
  const embedding = shape.vocabSize * shape.hiddenSize;
  const head = shape.tieWordEmbeddings ? 0 : embedding;
  return embedding + shape.numHiddenLayers * perLayer + shape.hiddenSize + head;
}

/** The three target sets of the comparison, as PEFT's target_modules values. */
export const TARGET_SETS: Record<string, string[] | 'all-linear'> = {
  'q,v': ['q_proj', 'v_proj'],
  'all attention': ['q_proj', 'k_proj', 'v_proj', 'o_proj'],
  'all linear': 'all-linear',
};

/**
 * Counts LoRA's trainable parameters: r·(in + out) for A [r, in] and B [out, r] of every targeted
 * projection in every layer. "all-linear" excludes the output head, as in PEFT.
 */
export function loraParameterCount(shape: ArchitectureShape, r: number, targetModules: string[] | 'all-linear'): number {
  if (!Number.isInteger(r) || r < 1) throw new Error(`loraParameterCount: r must be an integer >= 1, got ${r}.`);
  const projections = layerProjections(shape);
  if (targetModules !== 'all-linear') {
    const unknown = targetModules.filter((target) => !projections.some((projection) => projection.module === target));
    if (unknown.length > 0) {
      throw new Error(`loraParameterCount: target_modules ${JSON.stringify(unknown)} match no projection. Use ${projections.map((p) => p.module).join(', ')} or "all-linear".`);
    }
  }
  let perLayer = 0;
  for (const projection of projections) {
    if (targetModules === 'all-linear' || targetModules.includes(projection.module)) {
      perLayer += r * (projection.inFeatures + projection.outFeatures);
    }
  }
  return shape.numHiddenLayers * perLayer;
}

export interface LoraParameterRow {
  model: string;
  targets: string;
  r: number;
  loraParameters: number;
  fullParameters: number;
  /** 100 · loraParameters / fullParameters */
  percentOfFull: number;
}

/** Builds one row per architecture, target set and rank. */
export function loraParameterRows(
  architectures: ReferenceArchitecture[],
  ranks: number[],
  targetSets: Record<string, string[] | 'all-linear'> = TARGET_SETS,
): LoraParameterRow[] {
  const rows: LoraParameterRow[] = [];
  for (const architecture of architectures) {
    const fullParameters = baseParameterCount(architecture.shape);
    for (const [targets, modules] of Object.entries(targetSets)) {
      for (const r of ranks) {
        const loraParameters = loraParameterCount(architecture.shape, r, modules);
        rows.push({ model: architecture.name, targets, r, loraParameters, fullParameters, percentOfFull: (100 * loraParameters) / fullParameters });
      }
    }
  }
  return rows;
}

const COLORS = ['#636efa', '#ef553b', '#00cc96', '#ab63fa', '#ffa15a'];
const DASHES = ['solid', 'dash', 'dot'] as const;

/** Builds a log-log chart of trainable parameters against rank: one line per model and target set, and full fine-tuning as a dashed level. */
export function loraParameterFigure(rows: LoraParameterRow[]): PlotlyFigure {
  const models = [...new Set(rows.map((row) => row.model))];
  const targetSets = [...new Set(rows.map((row) => row.targets))];
  const ranks = [...new Set(rows.map((row) => row.r))].sort((a, b) => a - b);
  const data: Data[] = [];
  for (const [modelIndex, model] of models.entries()) {
    const color = COLORS[modelIndex % COLORS.length];
    for (const [targetIndex, targets] of targetSets.entries()) {
      const series = rows.filter((row) => row.model === model && row.targets === targets).sort((a, b) => a.r - b.r);
      data.push({
        type: 'scatter',
        mode: 'lines+markers',
        name: `${model} · LoRA ${targets}`,
        legendgroup: model,
        x: series.map((row) => row.r),
        y: series.map((row) => row.loraParameters),
        line: { color, dash: DASHES[targetIndex % DASHES.length] },
        hovertemplate: `${model}, ${targets}, r=%{x}: %{y:,} trainable<extra></extra>`,
      });
    }
    const full = rows.find((row) => row.model === model)!.fullParameters;
    data.push({
      type: 'scatter',
      mode: 'lines',
      name: `${model} · full fine-tuning`,
      legendgroup: model,
      x: [ranks[0], ranks[ranks.length - 1]],
      y: [full, full],
      line: { color, width: 4, dash: 'longdash' },
      opacity: 0.5,
      hovertemplate: `${model}, full fine-tuning: %{y:,} trainable<extra></extra>`,
    });
  }
  const layout: Partial<Layout> = {
    title: { text: 'Trainable parameters: LoRA against full fine-tuning' },
    xaxis: { title: { text: 'LoRA rank r' }, type: 'log', tickvals: ranks },
    yaxis: { title: { text: 'trainable parameters' }, type: 'log', exponentformat: 'SI' },
    legend: { font: { size: 10 } },
  };
  return { data, layout };
}

// ---------------------------------------------------------------------------------------------
// Training memory

export type WeightDtype = 'float32' | 'bfloat16';

const BYTES: Record<WeightDtype, number> = { float32: 4, bfloat16: 2 };

/** Bytes held during training, by kind. Activations, the KV cache and framework overhead are not counted. */
export interface TrainingMemory {
  /** Frozen base weights plus trainable weights (LoRA: the adapter in float32). */
  weights: number;
  /** One gradient per trainable weight, in the trainable weight's dtype. */
  gradients: number;
  /** Adam's first moment, float32, one value per trainable weight. */
  adamM: number;
  /** Adam's second moment, float32, one value per trainable weight. */
  adamV: number;
  total: number;
}

function memory(weights: number, gradients: number, trainable: number): TrainingMemory {
  const adamM = 4 * trainable;
  const adamV = 4 * trainable;
  return { weights, gradients, adamM, adamV, total: weights + gradients + adamM + adamV };
}

/**
 * Memory of full fine-tuning with Adam: weights and gradients in `dtype`, m and v in float32.
 * NOTE: bfloat16 training usually also keeps a float32 master copy of the weights (4 more bytes per
 * parameter). This count leaves it out, so the bfloat16 figure is a lower bound.
 */
export function fullFineTuningMemory(shape: ArchitectureShape, dtype: WeightDtype): TrainingMemory {
  const parameters = baseParameterCount(shape);
  return memory(parameters * BYTES[dtype], parameters * BYTES[dtype], parameters);
}

/**
 * Memory of LoRA training with Adam: frozen base weights in `dtype` without gradients or optimizer
 * state, and the adapter in float32 with its gradients and m, v. PEFT (0.20) upcasts bfloat16 and
 * float16 adapters to float32 by default (autocast_adapter_dtype=True), which is what this assumes.
 */
export function loraTrainingMemory(shape: ArchitectureShape, dtype: WeightDtype, r: number, targetModules: string[] | 'all-linear'): TrainingMemory {
  const base = baseParameterCount(shape);
  const adapter = loraParameterCount(shape, r, targetModules);
  return memory(base * BYTES[dtype] + adapter * 4, adapter * 4, adapter);
}

export interface MemoryRow extends TrainingMemory {
  model: string;
  method: string;
}

/** Builds rows for full fine-tuning and LoRA in float32 and bfloat16 weights, per architecture. */
export function trainingMemoryRows(architectures: ReferenceArchitecture[], lora: { r: number; targets: string; targetModules: string[] | 'all-linear' }): MemoryRow[] {
  const rows: MemoryRow[] = [];
  for (const architecture of architectures) {
    for (const dtype of ['float32', 'bfloat16'] as const) {
      rows.push({ model: architecture.name, method: `full, ${dtype}`, ...fullFineTuningMemory(architecture.shape, dtype) });
      rows.push({ model: architecture.name, method: `LoRA r=${lora.r} ${lora.targets}, ${dtype}`, ...loraTrainingMemory(architecture.shape, dtype, lora.r, lora.targetModules) });
    }
  }
  return rows;
}

const GIB = 2 ** 30;

/** Builds a stacked bar chart of training memory in GiB: weights, gradients, Adam m and v, one bar per model and method. */
export function trainingMemoryFigure(rows: MemoryRow[]): PlotlyFigure {
  const x = [rows.map((row) => row.model), rows.map((row) => row.method)];
  const parts = [
    ['weights', 'weights'],
    ['gradients', 'gradients'],
    ['adamM', 'Adam m (float32)'],
    ['adamV', 'Adam v (float32)'],
  ] as const;
  const data: Data[] = parts.map(([key, label], index) => ({
    type: 'bar',
    name: label,
    x: x as unknown as string[],
    y: rows.map((row) => row[key] / GIB),
    marker: { color: COLORS[index % COLORS.length] },
    hovertemplate: `%{x}<br>${label}: %{y:.2f} GiB<extra></extra>`,
  }));
  const layout: Partial<Layout> = {
    title: { text: 'Training memory without activations: full fine-tuning against LoRA' },
    barmode: 'stack',
    yaxis: { title: { text: 'GiB' } },
    xaxis: { tickangle: -30, tickfont: { size: 10 } },
    margin: { b: 160 },
  };
  return { data, layout };
}

// ---------------------------------------------------------------------------------------------
// Scaling and the size of ΔW across ranks

export interface ScalingRow {
  r: number;
  /** alpha / r */
  classic: number;
  /** alpha / sqrt(r), rank-stabilised LoRA */
  rslora: number;
}

export function scalingRows(ranks: number[], loraAlpha: number): ScalingRow[] {
  return ranks.map((r) => ({
    r,
    classic: loraScaling({ r, loraAlpha, useRslora: false }),
    rslora: loraScaling({ r, loraAlpha, useRslora: true }),
  }));
}

export interface RandomDeltaOptions {
  inFeatures: number;
  outFeatures: number;
  r: number;
  scaling: number;
  /** Standard deviation of B's entries: B stands for a trained B whose entries have this size whatever r is. */
  bStd: number;
  seed: number;
}

/**
 * Returns ‖scaling·B·A‖_F for A drawn as LoraLinear initialises it (uniform in ±1/sqrt(in)) and
 * B ~ normal(0, bStd²). At real initialisation B is zero, so the random B models B after training.
 */
export function randomDeltaNorm(options: RandomDeltaOptions): number {
  const bound = 1 / Math.sqrt(options.inFeatures);
  return tf.tidy(() => {
    const a = tf.randomUniform([options.r, options.inFeatures], -bound, bound, 'float32', options.seed); // (r, in)
    const b = tf.randomNormal([options.outFeatures, options.r], 0, options.bStd, 'float32', options.seed + 1); // (out, r)
    const delta = tf.matMul(b, a).mul(options.scaling); // (out, in)
    return delta.square().sum().sqrt().dataSync()[0];
  });
}

/**
 * Returns the expected ‖scaling·B·A‖_F under randomDeltaNorm's distributions: E‖BA‖² = out·in·r·Var(B)·Var(A)
 * with Var(A) = 1/(3·in), so ‖ΔW‖ ≈ scaling·bStd·sqrt(out·r/3). With scaling alpha/r it shrinks as
 * 1/sqrt(r). With alpha/sqrt(r) it stays constant, which is the argument for rsLoRA.
 */
export function expectedRandomDeltaNorm(options: Omit<RandomDeltaOptions, 'seed'>): number {
  return options.scaling * options.bStd * Math.sqrt((options.outFeatures * options.r) / 3);
}

export interface DeltaNormRow {
  r: number;
  classicScaling: number;
  rsloraScaling: number;
  classicNorm: number;
  rsloraNorm: number;
  classicExpected: number;
  rsloraExpected: number;
}

/** Measures ‖ΔW‖_F across ranks under both scalings, with the same random A and B for both. */
export function deltaNormRows(options: { inFeatures: number; outFeatures: number; loraAlpha: number; bStd: number; ranks: number[]; seed: number }): DeltaNormRow[] {
  return scalingRows(options.ranks, options.loraAlpha).map(({ r, classic, rslora }) => {
    const common = { inFeatures: options.inFeatures, outFeatures: options.outFeatures, r, bStd: options.bStd };
    return {
      r,
      classicScaling: classic,
      rsloraScaling: rslora,
      classicNorm: randomDeltaNorm({ ...common, scaling: classic, seed: options.seed + r }),
      rsloraNorm: randomDeltaNorm({ ...common, scaling: rslora, seed: options.seed + r }),
      classicExpected: expectedRandomDeltaNorm({ ...common, scaling: classic }),
      rsloraExpected: expectedRandomDeltaNorm({ ...common, scaling: rslora }),
    };
  });
}

/** Builds two panels against rank: the scaling factor, and ‖ΔW‖_F measured (markers) and expected (lines). */
export function deltaNormFigure(rows: DeltaNormRow[], title = 'Scaling and the size of ΔW across ranks'): PlotlyFigure {
  const r = rows.map((row) => row.r);
  const series = [
    { name: 'alpha/r (LoRA)', color: COLORS[0], scaling: rows.map((row) => row.classicScaling), norm: rows.map((row) => row.classicNorm), expected: rows.map((row) => row.classicExpected) },
    { name: 'alpha/sqrt(r) (rsLoRA)', color: COLORS[1], scaling: rows.map((row) => row.rsloraScaling), norm: rows.map((row) => row.rsloraNorm), expected: rows.map((row) => row.rsloraExpected) },
  ];
  const data: Data[] = [];
  for (const item of series) {
    data.push({ type: 'scatter', mode: 'lines+markers', name: `scaling ${item.name}`, legendgroup: item.name, x: r, y: item.scaling, line: { color: item.color } });
    data.push({ type: 'scatter', mode: 'markers', name: `‖ΔW‖ measured, ${item.name}`, legendgroup: item.name, x: r, y: item.norm, xaxis: 'x2', yaxis: 'y2', marker: { color: item.color, size: 9 } });
    data.push({ type: 'scatter', mode: 'lines', name: `‖ΔW‖ expected, ${item.name}`, legendgroup: item.name, x: r, y: item.expected, xaxis: 'x2', yaxis: 'y2', line: { color: item.color, dash: 'dash' } });
  }
  const layout: Record<string, unknown> = {
    title: { text: title },
    grid: { rows: 1, columns: 2, pattern: 'independent' },
    xaxis: { title: { text: 'rank r' }, type: 'log', tickvals: r },
    yaxis: { title: { text: 'scaling factor' }, type: 'log' },
    xaxis2: { title: { text: 'rank r' }, type: 'log', tickvals: r },
    yaxis2: { title: { text: '‖scaling·B·A‖_F' }, type: 'log' },
    legend: { orientation: 'h', y: -0.25 },
  };
  return { data, layout: layout as Partial<Layout> };
}

// ---------------------------------------------------------------------------------------------
// Singular values

/** A dense row-major matrix in float64. */
export interface Matrix {
  rows: number;
  cols: number;
  data: Float64Array;
}

export function matrix(rows: number, cols: number, values: ArrayLike<number>): Matrix {
  if (values.length !== rows * cols) throw new Error(`matrix: ${values.length} values do not fill a ${rows}×${cols} matrix (${rows * cols} needed).`);
  return { rows, cols, data: Float64Array.from(values) };
}

export function matrixFromRows(rows: number[][]): Matrix {
  const cols = rows[0]?.length ?? 0;
  if (rows.some((row) => row.length !== cols)) throw new Error('matrixFromRows: rows have different lengths. Give every row the same number of columns.');
  return matrix(rows.length, cols, rows.flat());
}

export interface SingularValueOptions {
  /** Columns count as orthogonal when |u_p·u_q| <= tolerance·‖u_p‖·‖u_q‖. */
  tolerance?: number;
  maxSweeps?: number;
}

/**
 * Computes the singular values of a matrix, largest first, min(rows, cols) of them, by one-sided
 * Jacobi (Hestenes' method). Plane rotations orthogonalise the columns of the taller orientation in
 * float64, and the singular values are then the column norms. The tests hold them to 1e-12 of σ_max.
 * One sweep costs about min(m, n)²·max(m, n) multiply-adds.
 */
export function singularValues(input: Matrix, options: SingularValueOptions = {}): Float64Array {
  const tolerance = options.tolerance ?? 1e-15;
  const maxSweeps = options.maxSweeps ?? 60;
  // Work on columns of length m >= n: transposing keeps the singular values.
  const tall = input.rows >= input.cols;
  const m = tall ? input.rows : input.cols;
  const n = tall ? input.cols : input.rows;
  const columns: Float64Array[] = [];
  for (let j = 0; j < n; j++) {
    const column = new Float64Array(m);
    for (let i = 0; i < m; i++) column[i] = tall ? input.data[i * input.cols + j] : input.data[j * input.cols + i];
    columns.push(column);
  }

  let converged = false;
  for (let sweep = 0; sweep < maxSweeps && !converged; sweep++) {
    converged = true;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const up = columns[p];
        const uq = columns[q];
        let alpha = 0;
        let beta = 0;
        let gamma = 0;
        for (let i = 0; i < m; i++) {
          alpha += up[i] * up[i];
          beta += uq[i] * uq[i];
          gamma += up[i] * uq[i];
        }
        if (alpha === 0 || beta === 0 || Math.abs(gamma) <= tolerance * Math.sqrt(alpha * beta)) continue;
        converged = false;

        // The rotation that zeroes the (p, q) entry of the 2×2 Gram matrix [[alpha, gamma], [gamma, beta]].
        const zeta = (beta - alpha) / (2 * gamma);
        const t = (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        for (let i = 0; i < m; i++) {
          const a = up[i];
          const b = uq[i];
          up[i] = c * a - s * b;
          uq[i] = s * a + c * b;
        }
      }
    }
  }
  if (!converged) throw new Error(`singularValues: one-sided Jacobi did not converge in ${maxSweeps} sweeps on a ${input.rows}×${input.cols} matrix. Raise maxSweeps, or check the matrix for NaN values.`);

  const values = Float64Array.from(columns, (column) => frobeniusNorm(column));
  return values.sort().reverse();
}

/**
 * Computes the singular values of scaling·B·A (B [out, r], A [r, in]) without forming the out×in product:
 * with B = Q·R (Householder, Q with orthonormal columns), B·A = Q·(R·A) has the singular values of the
 * r×in matrix R·A. Returns min(r, out, in) values, largest first; rank(B·A) <= r bounds the rest at 0.
 */
export function lowRankSingularValues(b: Matrix, a: Matrix, scaling = 1, options: SingularValueOptions = {}): Float64Array {
  if (b.cols !== a.rows) throw new Error(`lowRankSingularValues: B is ${b.rows}×${b.cols} and A is ${a.rows}×${a.cols}, but B's columns must equal A's rows (r).`);
  const r = b.cols;
  const core = householderR(b); // (min(out, r), r)
  const k = core.rows;
  const product = new Float64Array(k * a.cols); // R·A, (k, in)
  for (let i = 0; i < k; i++) {
    for (let l = i; l < r; l++) {
      const factor = core.data[i * r + l] * scaling;
      if (factor === 0) continue;
      for (let j = 0; j < a.cols; j++) product[i * a.cols + j] += factor * a.data[l * a.cols + j];
    }
  }
  return singularValues({ rows: k, cols: a.cols, data: product }, options);
}

/** Returns the upper-triangular R of B = Q·R by Householder reflections, min(rows, cols) × cols. */
function householderR(input: Matrix): Matrix {
  const { rows: m, cols: n } = input;
  const work = Float64Array.from(input.data);
  const k = Math.min(m, n);
  for (let j = 0; j < k; j++) {
    let norm = 0;
    for (let i = j; i < m; i++) norm += work[i * n + j] ** 2;
    norm = Math.sqrt(norm);
    if (norm === 0) continue;

    // v = x + sign(x0)·‖x‖·e0 avoids cancellation. H = I − 2vvᵀ/(vᵀv) maps x to −sign(x0)·‖x‖·e0.
    const sign = work[j * n + j] >= 0 ? 1 : -1;
    const v = new Float64Array(m - j);
    for (let i = j; i < m; i++) v[i - j] = work[i * n + j];
    v[0] += sign * norm;
    let vv = 0;
    for (const value of v) vv += value * value;
    for (let col = j; col < n; col++) {
      let dot = 0;
      for (let i = j; i < m; i++) dot += v[i - j] * work[i * n + col];
      const factor = (2 * dot) / vv;
      for (let i = j; i < m; i++) work[i * n + col] -= factor * v[i - j];
    }
  }
  const r = new Float64Array(k * n);
  for (let i = 0; i < k; i++) {
    for (let j = i; j < n; j++) r[i * n + j] = work[i * n + j];
  }
  return { rows: k, cols: n, data: r };
}

/** Share of the squared Frobenius norm in the k largest singular values (values sorted largest first). */
export function energyFraction(values: ArrayLike<number>, k: number): number {
  let top = 0;
  let total = 0;
  for (let i = 0; i < values.length; i++) {
    total += values[i] ** 2;
    if (i < k) top += values[i] ** 2;
  }
  return total === 0 ? 0 : top / total;
}

/**
 * Returns Roy and Vetterli's effective rank: exp of the Shannon entropy of σ_i / Σσ. It is k for k equal
 * non-zero singular values and 1 for a rank-1 matrix.
 */
export function effectiveRank(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  if (sum === 0) return 0;
  let entropy = 0;
  for (let i = 0; i < values.length; i++) {
    const p = values[i] / sum;
    if (p > 0) entropy -= p * Math.log(p);
  }
  return Math.exp(entropy);
}

/** One adapted module of a saved adapter: A [r, in], B [out, r] and the scaling of its config. */
export interface AdapterFactors {
  module: string;
  a: Matrix;
  b: Matrix;
  scaling: number;
}

/** Reads A and B of every module of a PEFT adapter folder, without loading a base model. */
export function readAdapterFactors(dir: string): AdapterFactors[] {
  const { config } = readAdapterConfig(dir);
  const scaling = loraScaling(config);
  const weightsFile = path.join(dir, ADAPTER_WEIGHTS_FILE);
  if (!fs.existsSync(weightsFile)) throw new Error(`Adapter weights not found: ${weightsFile}. Train an adapter first (lora-lab run).`);
  const file = SafetensorsFile.open(weightsFile);
  try {
    const suffix = '.lora_A.weight';
    const modules = [...file.tensors.keys()].filter((name) => name.endsWith(suffix)).map((name) => name.slice('base_model.model.'.length, -suffix.length));
    return modules.map((module) => {
      const a = file.read(peftTensorName(module, 'lora_A'));
      const bName = peftTensorName(module, 'lora_B');
      if (!file.has(bName)) throw new Error(`${weightsFile}: tensor "${bName}" is missing, though ${module} has lora_A.`);
      const b = file.read(bName);
      return { module, a: matrix(a.shape[0], a.shape[1], a.data), b: matrix(b.shape[0], b.shape[1], b.data), scaling };
    });
  } finally {
    file.close();
  }
}

/** Returns a matrix of normal(0, 1) entries rescaled to the given Frobenius norm (seeded, float64 copy of float32 draws). */
export function randomMatrixWithNorm(rows: number, cols: number, targetNorm: number, seed: number): Matrix {
  const values = tf.tidy(() => tf.randomNormal([rows, cols], 0, 1, 'float32', seed).dataSync());
  const data = Float64Array.from(values);
  const norm = frobeniusNorm(data);
  for (let i = 0; i < data.length; i++) data[i] *= targetNorm / norm;
  return { rows, cols, data };
}

export function frobeniusNorm(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i] ** 2;
  return Math.sqrt(sum);
}

/** Singular values of one learned ΔW next to random matrices of the same shape and Frobenius norm. */
export interface ModuleSpectrum {
  module: string;
  outFeatures: number;
  inFeatures: number;
  r: number;
  /** ‖scaling·B·A‖_F */
  norm: number;
  /** σ of scaling·B·A, r values (at most r are non-zero). */
  learned: Float64Array;
  /** σ of a normal(0, 1) out×in matrix rescaled to `norm`: min(out, in) values. */
  randomFull: Float64Array;
  /** σ of the product of normal(0, 1) factors [out, r]·[r, in] rescaled to `norm`: r values. */
  randomLowRank: Float64Array;
}

/**
 * Computes the spectra of one adapted module. The full-rank comparison runs one-sided Jacobi on an
 * out×in matrix, which is quick for the small models trained here.
 * NOTE: on a 4096-wide projection that step would take minutes, so pass modules of small models only.
 */
export function moduleSpectrum(factors: AdapterFactors, seed: number): ModuleSpectrum {
  const { a, b, scaling } = factors;
  const learned = lowRankSingularValues(b, a, scaling);
  const norm = frobeniusNorm(learned);
  const randomFull = singularValues(randomMatrixWithNorm(b.rows, a.cols, norm, seed));
  const lowRank = lowRankSingularValues(randomMatrixWithNorm(b.rows, b.cols, 1, seed + 1), randomMatrixWithNorm(a.rows, a.cols, 1, seed + 2));
  const lowRankNorm = frobeniusNorm(lowRank);
  const randomLowRank = lowRank.map((value) => (lowRankNorm === 0 ? 0 : (value * norm) / lowRankNorm));
  return { module: factors.module, outFeatures: b.rows, inFeatures: a.cols, r: b.cols, norm, learned, randomFull, randomLowRank };
}

export interface SpectrumSummaryRow {
  module: string;
  shape: string;
  r: number;
  normF: number;
  /** Share of ‖ΔW‖² in σ_1, for the learned ΔW and the two random matrices. */
  top1Learned: number;
  top1RandomRankR: number;
  top1RandomFull: number;
  effectiveRankLearned: number;
  effectiveRankRandomRankR: number;
  effectiveRankRandomFull: number;
}

export function spectrumSummary(spectrum: ModuleSpectrum): SpectrumSummaryRow {
  return {
    module: spectrum.module,
    shape: `${spectrum.outFeatures}×${spectrum.inFeatures}`,
    r: spectrum.r,
    normF: spectrum.norm,
    top1Learned: energyFraction(spectrum.learned, 1),
    top1RandomRankR: energyFraction(spectrum.randomLowRank, 1),
    top1RandomFull: energyFraction(spectrum.randomFull, 1),
    effectiveRankLearned: effectiveRank(spectrum.learned),
    effectiveRankRandomRankR: effectiveRank(spectrum.randomLowRank),
    effectiveRankRandomFull: effectiveRank(spectrum.randomFull),
  };
}

export interface SpectrumSeries {
  name: string;
  values: ArrayLike<number>;
}

/** Builds a chart of singular values against their index, log y axis, one line per matrix. */
export function spectrumFigure(series: SpectrumSeries[], title: string): PlotlyFigure {
  const data: Data[] = series.map((item, index) => ({
    type: 'scatter',
    mode: 'lines+markers',
    name: item.name,
    x: Array.from(item.values, (_, i) => i + 1),
    // Exact zeros (beyond the rank) cannot show on a log axis.
    y: Array.from(item.values, (value) => (value > 0 ? value : null)),
    line: { color: COLORS[index % COLORS.length] },
  }));
  const layout: Partial<Layout> = {
    title: { text: title },
    xaxis: { title: { text: 'index i (largest first)' } },
    yaxis: { title: { text: 'singular value σ_i' }, type: 'log', exponentformat: 'e' },
  };
  return { data, layout };
}

// ---------------------------------------------------------------------------------------------
// Evidence on a live model

/** Returns max |a − b| over all entries of two tensors of the same shape. */
export function maxAbsDifference(a: tf.Tensor, b: tf.Tensor): number {
  if (a.shape.join(',') !== b.shape.join(',')) throw new Error(`maxAbsDifference: shapes [${a.shape.join(', ')}] and [${b.shape.join(', ')}] differ.`);
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

/**
 * Runs one optimizer step on the adapter only: gradients of `loss` with respect to every lora_A and
 * lora_B, then optimizer.applyGradients. Returns the loss before the step. Base weights stay frozen.
 */
export function loraTrainingStep(lora: LoraModel, loss: () => tf.Scalar, optimizer: AdamW): number {
  const variables = lora.trainableVariables();
  const { value, grads } = tf.variableGrads(loss, variables);
  try {
    optimizer.applyGradients(
      variables,
      variables.map((variable) => grads[variable.name]),
    );
    return value.dataSync()[0];
  } finally {
    value.dispose();
    tf.dispose(Object.values(grads));
  }
}

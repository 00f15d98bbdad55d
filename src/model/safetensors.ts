import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../atomic-file';

export { writeFileAtomic };

/**
 * safetensors reading and writing. Layout: u64 little-endian header length N, N bytes of JSON mapping each
 * tensor name to {dtype, shape, data_offsets: [begin, end]} (offsets relative to byte 8 + N), then raw
 * little-endian data. Tensors are read one at a time with positioned reads, so a checkpoint never sits in
 * memory twice.
 */

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16';

export interface TensorInfo {
  dtype: string;
  shape: number[];
  /** Byte range inside the data section. */
  dataOffsets: [number, number];
}

/** A tensor widened to float32, as the model uses it. */
export interface NamedTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

const BYTES_PER_ELEMENT: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2 };

/** Widens BF16 bit patterns to float32: each value is the upper 16 bits of a float32. */
export function bf16ToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) outBits[i] = bits[i] << 16;
  return out;
}

/** Narrows float32 to BF16 with round to nearest, ties to even (NaN stays NaN). */
export function float32ToBf16(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const b = bits[i];
    if ((b & 0x7fffffff) > 0x7f800000) out[i] = (b >>> 16) | 0x0040;
    else out[i] = ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
  }
  return out;
}

/** Widens IEEE half-precision bit patterns to float32, subnormals, infinities and NaN included. */
export function f16ToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i];
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >>> 10) & 0x1f;
    const mantissa = h & 0x3ff;
    if (exponent === 0) out[i] = sign * mantissa * 2 ** -24;
    else if (exponent === 0x1f) out[i] = mantissa ? NaN : sign * Infinity;
    else out[i] = sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
  }
  return out;
}

/** An open safetensors file: the parsed header and positioned reads of single tensors. */
export class SafetensorsFile {
  private constructor(
    readonly file: string,
    private readonly fd: number,
    readonly tensors: Map<string, TensorInfo>,
    readonly metadata: Record<string, string>,
    private readonly dataStart: number,
  ) {}

  /** Opens `file` and parses its header; call close() when done. */
  static open(file: string): SafetensorsFile {
    if (!fs.existsSync(file)) throw new Error(`safetensors file not found: ${file}`);
    const fd = fs.openSync(file, 'r');
    try {
      const fileSize = fs.fstatSync(fd).size;
      const lengthBytes = Buffer.alloc(8);
      if (fs.readSync(fd, lengthBytes, 0, 8, 0) !== 8) throw new Error(`${file}: too short to be a safetensors file (${fileSize} bytes).`);
      const headerLength = Number(lengthBytes.readBigUInt64LE(0));
      if (headerLength <= 0 || 8 + headerLength > fileSize) {
        throw new Error(`${file}: header length ${headerLength} does not fit in the file (${fileSize} bytes); the file is truncated or not safetensors.`);
      }
      const headerBytes = Buffer.alloc(headerLength);
      fs.readSync(fd, headerBytes, 0, headerLength, 8);
      let header: Record<string, unknown>;
      try {
        header = JSON.parse(headerBytes.toString('utf8')) as Record<string, unknown>;
      } catch (error) {
        throw new Error(`${file}: header is not valid JSON (${(error as Error).message}).`);
      }

      const dataStart = 8 + headerLength;
      const tensors = new Map<string, TensorInfo>();
      let metadata: Record<string, string> = {};
      for (const [name, entry] of Object.entries(header)) {
        if (name === '__metadata__') {
          metadata = (entry ?? {}) as Record<string, string>;
          continue;
        }
        const info = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
        const offsets = info.data_offsets;
        if (
          typeof info.dtype !== 'string' ||
          !Array.isArray(info.shape) ||
          !Array.isArray(offsets) ||
          offsets.length !== 2 ||
          dataStart + Number(offsets[1]) > fileSize
        ) {
          throw new Error(`${file}: header entry for tensor "${name}" is invalid or points past the end of the file.`);
        }
        tensors.set(name, { dtype: info.dtype, shape: info.shape as number[], dataOffsets: [Number(offsets[0]), Number(offsets[1])] });
      }
      return new SafetensorsFile(file, fd, tensors, metadata, dataStart);
    } catch (error) {
      fs.closeSync(fd);
      throw error;
    }
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  /** Reads one tensor and widens it to float32. */
  read(name: string): NamedTensor {
    const info = this.tensors.get(name);
    if (!info) throw new Error(`${this.file}: tensor "${name}" not found.`);
    const dtype = info.dtype as SafetensorsDtype;
    const bytesPerElement = BYTES_PER_ELEMENT[dtype];
    if (bytesPerElement === undefined) {
      throw new Error(`${this.file}: tensor "${name}" has dtype ${info.dtype}; supported dtypes are F32, BF16 and F16.`);
    }
    const count = info.shape.reduce((a, b) => a * b, 1);
    const [begin, end] = info.dataOffsets;
    if (end - begin !== count * bytesPerElement) {
      throw new Error(`${this.file}: tensor "${name}" has ${end - begin} bytes, but ${info.dtype} [${info.shape.join(', ')}] needs ${count * bytesPerElement}.`);
    }
    // A fresh ArrayBuffer per tensor keeps typed-array views aligned.
    const bytes = new Uint8Array(end - begin);
    fs.readSync(this.fd, bytes, 0, bytes.length, this.dataStart + begin);
    let data: Float32Array;
    if (dtype === 'F32') data = new Float32Array(bytes.buffer);
    else if (dtype === 'BF16') data = bf16ToFloat32(new Uint16Array(bytes.buffer));
    else data = f16ToFloat32(new Uint16Array(bytes.buffer));
    return { name, shape: [...info.shape], data };
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}

/**
 * Writes float32 tensors to `file` atomically: the data goes to a temporary file in the same folder, which is
 * then renamed over the target, so a reader never sees a half-written checkpoint.
 */
export function writeSafetensors(file: string, tensors: NamedTensor[], metadata: Record<string, string> = {}): void {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt', ...metadata } };
  let offset = 0;
  const seen = new Set<string>();
  for (const tensor of tensors) {
    if (seen.has(tensor.name)) throw new Error(`writeSafetensors: tensor "${tensor.name}" appears twice.`);
    seen.add(tensor.name);
    const count = tensor.shape.reduce((a, b) => a * b, 1);
    if (count !== tensor.data.length) {
      throw new Error(`writeSafetensors: tensor "${tensor.name}" has shape [${tensor.shape.join(', ')}] but ${tensor.data.length} values.`);
    }
    header[tensor.name] = { dtype: 'F32', shape: tensor.shape, data_offsets: [offset, offset + count * 4] };
    offset += count * 4;
  }
  // The header is padded with spaces to a multiple of 8, as the reference writer does, to align the data.
  let headerText = JSON.stringify(header);
  headerText += ' '.repeat((8 - (Buffer.byteLength(headerText) % 8)) % 8);
  const headerBytes = Buffer.from(headerText, 'utf8');
  const lengthBytes = Buffer.alloc(8);
  lengthBytes.writeBigUInt64LE(BigInt(headerBytes.length));

  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const temporary = path.join(path.dirname(path.resolve(file)), `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  const fd = fs.openSync(temporary, 'w');
  try {
    fs.writeSync(fd, lengthBytes);
    fs.writeSync(fd, headerBytes);
    for (const tensor of tensors) {
      fs.writeSync(fd, new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength));
    }
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(temporary, file);
  } catch (error) {
    try {
      fs.closeSync(fd);
    } catch {
      // Already closed when the rename failed.
    }
    fs.rmSync(temporary, { force: true });
    throw error;
  }
}


import * as path from 'node:path';
import { SafetensorsFile } from '../model/safetensors';
import { ADAPTER_WEIGHTS_FILE } from './adapter';

export interface AdapterTensor {
  name: string;
  dtype: string;
  shape: number[];
}

/** Lists the tensors of an adapter folder's adapter_model.safetensors, in header order, reading only the header. */
export function listAdapterTensors(adapterDir: string): AdapterTensor[] {
  const file = SafetensorsFile.open(path.join(adapterDir, ADAPTER_WEIGHTS_FILE));
  try {
    return [...file.tensors.entries()].map(([name, info]) => ({ name, dtype: info.dtype, shape: [...info.shape] }));
  } finally {
    file.close();
  }
}

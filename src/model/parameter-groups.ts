import type { ModelConfig } from './config';
import { weightSpecs } from './llama';

/** Parameters of one kind of weight, summed over the layers. */
export interface ParameterGroup {
  group: 'embedding' | 'attention' | 'mlp' | 'norm' | 'lm_head';
  tensors: number;
  parameters: number;
}

function groupOf(name: string): ParameterGroup['group'] {
  if (name === 'model.embed_tokens.weight') return 'embedding';
  if (name === 'lm_head.weight') return 'lm_head';
  if (name.includes('.self_attn.')) return 'attention';
  if (name.includes('.mlp.')) return 'mlp';
  return 'norm';
}

/**
 * Counts the parameters a configuration implies, by group, from the checkpoint's tensor list without
 * allocating weights. A tied lm_head shares the embedding and so adds no group.
 */
export function parameterGroups(config: ModelConfig): ParameterGroup[] {
  const groups = new Map<ParameterGroup['group'], ParameterGroup>();
  for (const spec of weightSpecs(config)) {
    const group = groupOf(spec.name);
    const entry = groups.get(group) ?? { group, tensors: 0, parameters: 0 };
    entry.tensors += 1;
    entry.parameters += spec.shape.reduce((product, size) => product * size, 1);
    groups.set(group, entry);
  }
  return [...groups.values()];
}

// Random CLIP checkpoints in the OpenCLIP layout, for tests (a second model of another size and
// activation), benchmarks (speed does not depend on the values) and the demo bundle.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { encodeSafetensors, type TensorToWrite } from './safetensors.ts';

export interface ClipDims {
  embedDim: number;
  activation: 'quick_gelu' | 'gelu';
  vision: { imageSize: number; patchSize: number; width: number; layers: number; heads: number };
  text: { width: number; layers: number; heads: number; vocabSize: number; contextLength: number };
}

export const VIT_B_16: ClipDims = {
  embedDim: 512,
  activation: 'quick_gelu',
  vision: { imageSize: 224, patchSize: 16, width: 768, layers: 12, heads: 12 },
  text: { width: 512, layers: 12, heads: 8, vocabSize: 49408, contextLength: 77 },
};

export const VIT_L_14_336: ClipDims = {
  embedDim: 768,
  activation: 'quick_gelu',
  vision: { imageSize: 336, patchSize: 14, width: 1024, layers: 24, heads: 16 },
  text: { width: 768, layers: 12, heads: 12, vocabSize: 49408, contextLength: 77 },
};

/** Deterministic normal samples (xorshift32 + Box-Muller). */
function gaussian(seed: number): (std: number) => number {
  let s = seed >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s + 0.5) / 4294967296;
  };
  return (std) => std * Math.sqrt(-2 * Math.log(next())) * Math.cos(2 * Math.PI * next());
}

export async function writeRandomClip(dir: string, dims: ClipDims, seed = 1): Promise<void> {
  const rand = gaussian(seed);
  const tensors: Record<string, TensorToWrite> = {};
  const put = (name: string, shape: number[], std: number, mean = 0) => {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = mean + rand(std);
    tensors[name] = { dtype: 'F32', shape, data };
  };
  const blocks = (prefix: string, width: number, layers: number) => {
    for (let i = 0; i < layers; i++) {
      const p = `${prefix}.${i}`;
      put(`${p}.ln_1.weight`, [width], 0.1, 1);
      put(`${p}.ln_1.bias`, [width], 0.1);
      put(`${p}.attn.in_proj_weight`, [3 * width, width], 1 / Math.sqrt(width));
      put(`${p}.attn.in_proj_bias`, [3 * width], 0.02);
      put(`${p}.attn.out_proj.weight`, [width, width], 1 / Math.sqrt(width));
      put(`${p}.attn.out_proj.bias`, [width], 0.02);
      put(`${p}.ln_2.weight`, [width], 0.1, 1);
      put(`${p}.ln_2.bias`, [width], 0.1);
      put(`${p}.mlp.c_fc.weight`, [4 * width, width], 1 / Math.sqrt(width));
      put(`${p}.mlp.c_fc.bias`, [4 * width], 0.02);
      put(`${p}.mlp.c_proj.weight`, [width, 4 * width], 1 / Math.sqrt(4 * width));
      put(`${p}.mlp.c_proj.bias`, [width], 0.02);
    }
  };
  const v = dims.vision;
  const grid = v.imageSize / v.patchSize;
  put('visual.class_embedding', [v.width], 0.5);
  put('visual.positional_embedding', [grid * grid + 1, v.width], 0.1);
  put('visual.conv1.weight', [v.width, 3, v.patchSize, v.patchSize], 1 / Math.sqrt(3 * v.patchSize * v.patchSize));
  put('visual.ln_pre.weight', [v.width], 0.1, 1);
  put('visual.ln_pre.bias', [v.width], 0.1);
  blocks('visual.transformer.resblocks', v.width, v.layers);
  put('visual.ln_post.weight', [v.width], 0.1, 1);
  put('visual.ln_post.bias', [v.width], 0.1);
  put('visual.proj', [v.width, dims.embedDim], 1 / Math.sqrt(v.width));
  const t = dims.text;
  put('token_embedding.weight', [t.vocabSize, t.width], 0.02);
  put('positional_embedding', [t.contextLength, t.width], 0.01);
  blocks('transformer.resblocks', t.width, t.layers);
  put('ln_final.weight', [t.width], 0.1, 1);
  put('ln_final.bias', [t.width], 0.1);
  put('text_projection', [t.width, dims.embedDim], 1 / Math.sqrt(t.width));
  put('logit_scale', [1], 0, Math.log(100));

  const config = {
    model_cfg: {
      embed_dim: dims.embedDim,
      quick_gelu: dims.activation === 'quick_gelu',
      vision_cfg: { image_size: v.imageSize, layers: v.layers, width: v.width, patch_size: v.patchSize, head_width: v.width / v.heads },
      text_cfg: { context_length: t.contextLength, vocab_size: t.vocabSize, width: t.width, heads: t.heads, layers: t.layers },
    },
    preprocess_cfg: { mean: [0.48145466, 0.4578275, 0.40821073], std: [0.26862954, 0.26130258, 0.27577711] },
  };
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, 'open_clip_config.json'), JSON.stringify(config, null, 2));
  await fs.writeFile(path.join(dir, 'open_clip_model.safetensors'), encodeSafetensors(tensors, { generator: 'linewatch random-weights', seed: String(seed) }));
}

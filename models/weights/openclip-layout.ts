// OpenCLIP / OpenAI key names (`visual.transformer.resblocks.N.attn.in_proj_weight`, ...).
import type { BlockWeights, ClipWeights, TextWeights, VisionWeights } from './clip-weights.ts';
import type { TensorSource } from './tensor-source.ts';

export interface OpenClipConfig {
  model_cfg?: {
    embed_dim?: number;
    quick_gelu?: boolean;
    vision_cfg?: { image_size?: number; layers?: number; width?: number; patch_size?: number; head_width?: number; heads?: number };
    text_cfg?: { context_length?: number; vocab_size?: number; width?: number; heads?: number; layers?: number };
  };
  preprocess_cfg?: { mean?: number[]; std?: number[] };
}

function block(src: TensorSource, prefix: string, width: number): BlockWeights {
  const hidden = src.shape(`${prefix}.mlp.c_fc.weight`)?.[0] ?? 4 * width;
  return {
    ln1: src.layerNorm(`${prefix}.ln_1`, width),
    qkvWeight: src.matrix(`${prefix}.attn.in_proj_weight`, 3 * width, width),
    qkvBias: src.get(`${prefix}.attn.in_proj_bias`, [3 * width]),
    outWeight: src.matrix(`${prefix}.attn.out_proj.weight`, width, width),
    outBias: src.get(`${prefix}.attn.out_proj.bias`, [width]),
    ln2: src.layerNorm(`${prefix}.ln_2`, width),
    fcWeight: src.matrix(`${prefix}.mlp.c_fc.weight`, hidden, width),
    fcBias: src.get(`${prefix}.mlp.c_fc.bias`, [hidden]),
    projWeight: src.matrix(`${prefix}.mlp.c_proj.weight`, width, hidden),
    projBias: src.get(`${prefix}.mlp.c_proj.bias`, [width]),
  };
}

export function readOpenClipVision(src: TensorSource, cfg: OpenClipConfig): VisionWeights | null {
  const conv = src.shape('visual.conv1.weight');
  const proj = src.shape('visual.proj');
  const pos = src.shape('visual.positional_embedding');
  if (conv?.length !== 4 || !proj || !pos) {
    src.get('visual.conv1.weight', [null, 3, null, null]);
    src.get('visual.proj', [null, null]);
    src.get('visual.positional_embedding', [null, null]);
    return null;
  }
  const [width, , patchSize] = conv;
  const vcfg = cfg.model_cfg?.vision_cfg ?? {};
  const grid = Math.round(Math.sqrt(pos[0] - 1));
  const imageSize = vcfg.image_size ?? grid * patchSize;
  const heads = vcfg.heads ?? width / (vcfg.head_width ?? 64);
  const layers = src.countBlocks('visual.transformer.resblocks.');
  return {
    width,
    heads,
    patchSize,
    imageSize,
    patchEmbedding: src.get('visual.conv1.weight', [width, 3, patchSize, patchSize]),
    classEmbedding: src.get('visual.class_embedding', [width]),
    positionalEmbedding: src.matrix('visual.positional_embedding', grid * grid + 1, width),
    lnPre: src.layerNorm('visual.ln_pre', width),
    blocks: Array.from({ length: layers }, (_, i) => block(src, `visual.transformer.resblocks.${i}`, width)),
    lnPost: src.layerNorm('visual.ln_post', width),
    projection: src.matrix('visual.proj', width, proj[1]),
  };
}

export function readOpenClipText(src: TensorSource, cfg: OpenClipConfig): TextWeights | null {
  const tok = src.shape('token_embedding.weight');
  const proj = src.shape('text_projection');
  const pos = src.shape('positional_embedding');
  if (!tok || !proj || !pos) {
    src.get('token_embedding.weight', [null, null]);
    src.get('text_projection', [null, null]);
    src.get('positional_embedding', [null, null]);
    return null;
  }
  const [vocabSize, width] = tok;
  const tcfg = cfg.model_cfg?.text_cfg ?? {};
  const heads = tcfg.heads ?? width / 64;
  const layers = src.countBlocks('transformer.resblocks.');
  return {
    width,
    heads,
    contextLength: pos[0],
    vocabSize,
    tokenEmbedding: src.matrix('token_embedding.weight', vocabSize, width),
    positionalEmbedding: src.matrix('positional_embedding', pos[0], width),
    blocks: Array.from({ length: layers }, (_, i) => block(src, `transformer.resblocks.${i}`, width)),
    lnFinal: src.layerNorm('ln_final', width),
    projection: src.matrix('text_projection', width, proj[1]),
  };
}

export function openClipActivation(cfg: OpenClipConfig): ClipWeights['activation'] {
  return cfg.model_cfg?.quick_gelu ? 'quick_gelu' : 'gelu';
}

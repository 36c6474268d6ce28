// Hugging Face `CLIPModel` key names (`vision_model.encoder.layers.N.self_attn.q_proj.weight`, ...).
import type { Activation, BlockWeights, Matrix, TextWeights, VisionWeights } from './clip-weights.ts';
import type { TensorSource } from './tensor-source.ts';

export interface HfClipConfig {
  projection_dim?: number;
  text_config?: { hidden_act?: string; num_attention_heads?: number; layer_norm_eps?: number; max_position_embeddings?: number };
  vision_config?: { hidden_act?: string; num_attention_heads?: number; layer_norm_eps?: number; image_size?: number; patch_size?: number };
}

function stack(parts: Matrix[]): Matrix {
  const data = new Float32Array(parts.reduce((n, p) => n + p.data.length, 0));
  let off = 0;
  for (const p of parts) {
    data.set(p.data, off);
    off += p.data.length;
  }
  return { rows: parts.reduce((n, p) => n + p.rows, 0), cols: parts[0].cols, data };
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function block(src: TensorSource, prefix: string, width: number): BlockWeights {
  const hidden = src.shape(`${prefix}.mlp.fc1.weight`)?.[0] ?? 4 * width;
  const qkv = ['q_proj', 'k_proj', 'v_proj'];
  return {
    ln1: src.layerNorm(`${prefix}.layer_norm1`, width),
    qkvWeight: stack(qkv.map((p) => src.matrix(`${prefix}.self_attn.${p}.weight`, width, width))),
    qkvBias: concat(qkv.map((p) => src.get(`${prefix}.self_attn.${p}.bias`, [width]))),
    outWeight: src.matrix(`${prefix}.self_attn.out_proj.weight`, width, width),
    outBias: src.get(`${prefix}.self_attn.out_proj.bias`, [width]),
    ln2: src.layerNorm(`${prefix}.layer_norm2`, width),
    fcWeight: src.matrix(`${prefix}.mlp.fc1.weight`, hidden, width),
    fcBias: src.get(`${prefix}.mlp.fc1.bias`, [hidden]),
    projWeight: src.matrix(`${prefix}.mlp.fc2.weight`, width, hidden),
    projBias: src.get(`${prefix}.mlp.fc2.bias`, [width]),
  };
}

export function readHfVision(src: TensorSource, cfg: HfClipConfig): VisionWeights | null {
  const conv = src.shape('vision_model.embeddings.patch_embedding.weight');
  const proj = src.shape('visual_projection.weight');
  const pos = src.shape('vision_model.embeddings.position_embedding.weight');
  if (conv?.length !== 4 || !proj || !pos) {
    src.get('vision_model.embeddings.patch_embedding.weight', [null, 3, null, null]);
    src.get('visual_projection.weight', [null, null]);
    src.get('vision_model.embeddings.position_embedding.weight', [null, null]);
    return null;
  }
  const [width, , patchSize] = conv;
  const grid = Math.round(Math.sqrt(pos[0] - 1));
  const vcfg = cfg.vision_config ?? {};
  const layers = src.countBlocks('vision_model.encoder.layers.');
  return {
    width,
    heads: vcfg.num_attention_heads ?? width / 64,
    patchSize,
    imageSize: vcfg.image_size ?? grid * patchSize,
    patchEmbedding: src.get('vision_model.embeddings.patch_embedding.weight', [width, 3, patchSize, patchSize]),
    classEmbedding: src.get('vision_model.embeddings.class_embedding', [width]),
    positionalEmbedding: src.matrix('vision_model.embeddings.position_embedding.weight', grid * grid + 1, width),
    lnPre: src.layerNorm('vision_model.pre_layrnorm', width),
    blocks: Array.from({ length: layers }, (_, i) => block(src, `vision_model.encoder.layers.${i}`, width)),
    lnPost: src.layerNorm('vision_model.post_layernorm', width),
    projection: src.transposed('visual_projection.weight', width, proj[0]),
  };
}

export function readHfText(src: TensorSource, cfg: HfClipConfig): TextWeights | null {
  const tok = src.shape('text_model.embeddings.token_embedding.weight');
  const proj = src.shape('text_projection.weight');
  const pos = src.shape('text_model.embeddings.position_embedding.weight');
  if (!tok || !proj || !pos) {
    src.get('text_model.embeddings.token_embedding.weight', [null, null]);
    src.get('text_projection.weight', [null, null]);
    src.get('text_model.embeddings.position_embedding.weight', [null, null]);
    return null;
  }
  const [vocabSize, width] = tok;
  const layers = src.countBlocks('text_model.encoder.layers.');
  return {
    width,
    heads: cfg.text_config?.num_attention_heads ?? width / 64,
    contextLength: pos[0],
    vocabSize,
    tokenEmbedding: src.matrix('text_model.embeddings.token_embedding.weight', vocabSize, width),
    positionalEmbedding: src.matrix('text_model.embeddings.position_embedding.weight', pos[0], width),
    blocks: Array.from({ length: layers }, (_, i) => block(src, `text_model.encoder.layers.${i}`, width)),
    lnFinal: src.layerNorm('text_model.final_layer_norm', width),
    projection: src.transposed('text_projection.weight', width, proj[0]),
  };
}

export function hfActivation(cfg: HfClipConfig): Activation | string {
  return cfg.vision_config?.hidden_act ?? cfg.text_config?.hidden_act ?? 'quick_gelu';
}

// The CLIP weights every graph builder consumes, independent of the file layout they came from.
// Matrices keep PyTorch's Linear layout [out, in]; builders transpose where they need [in, out].

export type Activation = 'quick_gelu' | 'gelu';
export type Layout = 'openclip' | 'hf';

export interface Matrix {
  rows: number;
  cols: number;
  data: Float32Array;
}

export interface LayerNormWeights {
  weight: Float32Array;
  bias: Float32Array;
}

/** One pre-norm transformer block: x += attn(ln1(x)); x += mlp(ln2(x)). */
export interface BlockWeights {
  ln1: LayerNormWeights;
  /** q, k and v stacked: [3W, W] and [3W]. */
  qkvWeight: Matrix;
  qkvBias: Float32Array;
  outWeight: Matrix;
  outBias: Float32Array;
  ln2: LayerNormWeights;
  fcWeight: Matrix;
  fcBias: Float32Array;
  projWeight: Matrix;
  projBias: Float32Array;
}

export interface VisionWeights {
  width: number;
  heads: number;
  patchSize: number;
  imageSize: number;
  /** [W, 3, p, p], no bias (CLIP's patch embedding has none). */
  patchEmbedding: Float32Array;
  classEmbedding: Float32Array;
  /** [1 + g*g, W] at `imageSize`. */
  positionalEmbedding: Matrix;
  lnPre: LayerNormWeights;
  blocks: BlockWeights[];
  lnPost: LayerNormWeights;
  /** [W, E]: applied as x @ proj. */
  projection: Matrix;
}

export interface TextWeights {
  width: number;
  heads: number;
  contextLength: number;
  vocabSize: number;
  /** [V, W] */
  tokenEmbedding: Matrix;
  /** [contextLength, W] */
  positionalEmbedding: Matrix;
  blocks: BlockWeights[];
  lnFinal: LayerNormWeights;
  /** [W, E]: applied as x @ proj. */
  projection: Matrix;
}

export interface ClipWeights {
  layout: Layout;
  embedDim: number;
  activation: Activation;
  layerNormEps: number;
  mean: [number, number, number];
  std: [number, number, number];
  vision: VisionWeights;
  text: TextWeights;
  /** Weight and config files read, with their sha256, for the bundle manifest. */
  sources: { file: string; sha256: string }[];
}

export const CLIP_MEAN: [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
export const CLIP_STD: [number, number, number] = [0.26862954, 0.26130258, 0.27577711];

// memory.onnx: the patch-memory scorer (WinCLIP+ / PatchCore style few-shot visual memory).
//   patch_embeds [B,K,N,E] (vision.onnx's output), memory_bank [K,M,E] (normal patches per layer)
//   -> memory_map [B,H,W], memory_score [B]
// A patch scores 1 - its highest cosine similarity to its layer's bank, averaged over layers,
// then upsampled and smoothed exactly like the prompt head's map (patchScoreMap, shared).
// The nearest-neighbour search is a batched MatMul and a ReduceMax, so it runs wherever
// vision.onnx runs, TensorRT included. The bank is a required input with a variable length M:
// onnxruntime-node ignores a fed value for an input that has an initializer, and the bank
// changes at every tuning. It must hold unit rows (L2-normalised): tuning builds it so
// (tuning/memory-bank.ts) and loading a sidecar checks it (memory-bank-file.ts), so the graph
// normalises only the patches; normalising the bank here would redo on every frame a pass over
// K x M x E values that building the bank did once. Layers whose banks differ in length are padded to the longest by
// repeating one of their own rows (packBank in tuning/memory-bank.ts): a duplicate leaves the
// maximum unchanged.
import type { GraphBuilder } from '../onnx/graph-builder.ts';
import { l2Normalise, patchScoreMap } from './vision.ts';

export const MEMORY_INPUTS = { patches: 'patch_embeds', bank: 'memory_bank' } as const;
export const MEMORY_OUTPUTS = { map: 'memory_map', score: 'memory_score' } as const;

/**
 * Cosine distances at or below this are the floor (0). float32 rounding of a unit-vector dot
 * product over E ~ 512 terms reaches ~1e-6; without the tolerance a patch identical to a bank
 * patch would score a rounding residue instead of exactly the floor. The tolerance is subtracted
 * from every distance (clipped at 0), a constant shift that calibration absorbs.
 */
export const SIMILARITY_TOLERANCE = 1e-4;

export interface MemoryGraphOptions {
  /** K: selected layers in patch_embeds. */
  layers: number;
  grid: number;
  embedDim: number;
  imageSize: number;
}

/** The scorer over patch embeddings `patchEmbeds` [B,K,N,E] and a bank [K,M,E] of unit rows. */
export function memoryHead(g: GraphBuilder, patchEmbeds: string, bank: string, grid: number, imageSize: number): { map: string; score: string } {
  const patches = l2Normalise(g, patchEmbeds); // [B,K,N,E]
  const bankT = g.node('Transpose', [bank], { perm: [0, 2, 1] }); // [K,E,M], unit rows already
  const similarity = g.node('MatMul', [patches, bankT]); // [B,K,N,M]
  const best = g.node('ReduceMax', [similarity], { axes: [3], keepdims: 1 }); // [B,K,N,1]
  const distance = g.node('Max', [g.node('Sub', [g.constF([1 - SIMILARITY_TOLERANCE], []), best]), g.constF([0], [])]);
  return patchScoreMap(g, distance, grid, imageSize);
}

export function buildMemoryGraph(g: GraphBuilder, o: MemoryGraphOptions): void {
  const n = o.grid * o.grid;
  const patches = g.input(MEMORY_INPUTS.patches, 'float32', ['B', o.layers, n, o.embedDim]);
  const bank = g.input(MEMORY_INPUTS.bank, 'float32', [o.layers, 'M', o.embedDim]);
  const head = memoryHead(g, patches, bank, o.grid, o.imageSize);
  g.output(head.map, MEMORY_OUTPUTS.map, 'float32', ['B', o.imageSize, o.imageSize]);
  g.output(head.score, MEMORY_OUTPUTS.score, 'float32', ['B']);
}

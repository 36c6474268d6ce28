// Runs memory.onnx: patch embeddings (vision.onnx's `patch_embeds`) against a memory bank ->
// memory anomaly maps and scores. The search is in the graph (see models/graphs/memory.ts); this
// wrapper only batches and feeds it.
import ort from 'onnxruntime-node';
import type { Bundle } from '../models/bundle/load.ts';
import { MEMORY_INPUTS, MEMORY_OUTPUTS } from '../models/graphs/memory.ts';
import { createSession, type SessionFactoryOptions } from '../models/session.ts';
import { err, ok, type Result } from '../util/result.ts';
import { type MemoryBank, packBank } from './memory-bank.ts';

export interface MemoryScores {
  /** [count] */
  scores: Float32Array;
  /** [count,size,size] or null when not asked for. */
  maps: Float32Array | null;
}

export class MemorySearch {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly layers: number,
    readonly patches: number,
    readonly embedDim: number,
    readonly size: number,
  ) {}

  /** An error (not a throw) for a bundle built before memory.onnx existed. */
  static async open(bundle: Bundle, options: SessionFactoryOptions): Promise<Result<MemorySearch>> {
    if (!bundle.paths.memory)
      return err(
        `bundle ${bundle.dir} has no memory.onnx (it was built before the memory scorer existed); rebuild it with 'linewatch model build' to use the memory scorer`,
      );
    const { session } = await createSession(bundle.paths.memory, options);
    const m = bundle.manifest;
    return ok(new MemorySearch(session, m.vision.layers.length, m.vision.grid ** 2, m.embedDim, m.vision.imageSize));
  }

  async release(): Promise<void> {
    await this.session.release();
  }

  /** Scores `count` images' patch embeddings [count,K,N,E] against `bank`. */
  async run(patchEmbeds: Float32Array, bank: MemoryBank, options: { maps?: boolean; batchSize?: number } = {}): Promise<MemoryScores> {
    const { layers: K, patches: N, embedDim: E, size } = this;
    const per = K * N * E;
    if (patchEmbeds.length % per !== 0) throw new RangeError(`patch embeddings have ${patchEmbeds.length} values, not a multiple of K x N x E = ${per}`);
    if (bank.embedDim !== E || bank.layers.length !== K)
      throw new RangeError(`the memory bank has ${bank.layers.length} layers of width ${bank.embedDim}, the bundle needs ${K} of width ${E}`);
    const count = patchEmbeds.length / per;
    const packed = packBank(bank);
    const bankTensor = new ort.Tensor('float32', packed.data, [K, packed.rows, E]);
    const result: MemoryScores = { scores: new Float32Array(count), maps: options.maps ? new Float32Array(count * size * size) : null };
    const fetches = [MEMORY_OUTPUTS.score, ...(options.maps ? [MEMORY_OUTPUTS.map] : [])];
    const batchSize = Math.max(1, options.batchSize ?? 4);
    for (let first = 0; first < count; first += batchSize) {
      const b = Math.min(batchSize, count - first);
      const patches = new ort.Tensor('float32', patchEmbeds.subarray(first * per, (first + b) * per), [b, K, N, E]);
      const out = await this.session.run({ [MEMORY_INPUTS.patches]: patches, [MEMORY_INPUTS.bank]: bankTensor }, fetches);
      result.scores.set(out[MEMORY_OUTPUTS.score].data as Float32Array, first);
      result.maps?.set(out[MEMORY_OUTPUTS.map].data as Float32Array, first * size * size);
    }
    return result;
  }
}

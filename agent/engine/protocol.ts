// Messages between the agent (main thread) and the inference worker. Pixel and map buffers
// travel as transferables: ownership moves, nothing is copied.

export interface VisionModelSpec {
  /** Path of vision.onnx. */
  visionPath: string;
  imageSize: number;
  mean: [number, number, number];
  std: [number, number, number];
  providers: string[];
  threads: number;
}

export type WorkerRequest =
  | { type: 'load'; id: number; model: VisionModelSpec; textEmbeds: Float32Array | null }
  | { type: 'text'; id: number; textEmbeds: Float32Array }
  | { type: 'infer'; id: number; frames: ArrayBuffer[] };

export interface FrameOutput {
  /** The frame's pixels, handed back. */
  rgb: ArrayBuffer;
  /** anomaly_map [H*W], float32. */
  map: ArrayBuffer;
  rawScore: number;
}

export type WorkerReply =
  | { type: 'loaded'; id: number; provider: string }
  | { type: 'ok'; id: number }
  | { type: 'inferred'; id: number; outputs: FrameOutput[]; preMs: number; inferMs: number }
  | { type: 'error'; id: number; message: string };

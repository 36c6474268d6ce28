// Messages between the agent (main thread) and the inference worker. Pixel and map buffers
// travel as transferables: ownership moves, nothing is copied.
import type { ExecutionProvider, ProviderSettings } from '../../models/runtime/execution-providers.ts';
import type { TensorrtStart } from '../../models/session.ts';
import type { ScorerGraph, ScorerName, ScorerStates } from '../scoring/scorer.ts';

export interface VisionModelSpec {
  /** Path of vision.onnx. */
  visionPath: string;
  imageSize: number;
  mean: [number, number, number];
  std: [number, number, number];
  providers: ExecutionProvider[];
  threads: number;
  /** model.tensorrt, model.cuda and the bundle's engine cache directory. */
  settings: ProviderSettings;
  /** Paths of the bundle's scorer graphs run after vision.onnx (memory.onnx), where it has them. */
  scorerGraphs: Partial<Record<Exclude<ScorerGraph, 'vision'>, string>>;
}

export type WorkerRequest =
  | { type: 'load'; id: number; model: VisionModelSpec; scorers: ScorerStates }
  /** Replaces every scorer's state at once (prompts and what else a prompt set carries). */
  | { type: 'scorers'; id: number; scorers: ScorerStates }
  | { type: 'infer'; id: number; frames: ArrayBuffer[] };

export interface FrameOutput {
  /** The frame's pixels, handed back. */
  rgb: ArrayBuffer;
  /** Per scorer that ran: its map [H*W] (float32) and raw score. */
  scores: Partial<Record<ScorerName, { map: ArrayBuffer; rawScore: number }>>;
}

export type WorkerReply =
  | { type: 'loaded'; id: number; provider: string }
  /** Sent during a load, before a TensorRT session is created (which can take minutes). */
  | ({ type: 'tensorrt-start'; id: number } & TensorrtStart)
  | { type: 'ok'; id: number }
  | { type: 'inferred'; id: number; outputs: FrameOutput[]; preMs: number; inferMs: number }
  | { type: 'error'; id: number; message: string };

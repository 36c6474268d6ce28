// What the inference engine is doing while a TensorRT session is created. An engine build takes
// minutes on a first start with a bundle, so the log, P/status, /healthz and the page say so,
// with the elapsed time, and repeat it until the session is ready.
import type { TensorrtStart } from '../../models/session.ts';

/** How often `onChange` fires while a start runs, so the elapsed time stays current. */
const REPEAT_MS = 15_000;

export class EngineStartStatus {
  private current: (TensorrtStart & { since: number; timer: NodeJS.Timeout }) | null = null;

  /** `onChange` is called when a start begins, every REPEAT_MS while it runs, and when it ends. */
  constructor(private readonly onChange: () => void) {}

  begin(start: TensorrtStart): void {
    this.end();
    const timer = setInterval(() => this.onChange(), REPEAT_MS);
    this.current = { ...start, since: Date.now(), timer };
    this.onChange();
  }

  end(): void {
    if (!this.current) return;
    clearInterval(this.current.timer);
    this.current = null;
    this.onChange();
  }

  /** e.g. "building TensorRT engine for vision.onnx (first start with this bundle), 42 s"; null when no start runs. */
  text(): string | null {
    const s = this.current;
    if (!s) return null;
    const elapsed = `${Math.round((Date.now() - s.since) / 1000)} s`;
    return s.cached
      ? `loading the cached TensorRT engine for ${s.graph}, ${elapsed}`
      : `building TensorRT engine for ${s.graph} (first start with this bundle), ${elapsed}`;
  }
}

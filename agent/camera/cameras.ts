// The configured cameras of the running agent, by name: what commands address ("unknown camera"
// names the ones there are) and what start, stop and a model swap go through.
import { err, ok, type Result } from '../../util/result.ts';
import type { CameraConfig } from '../config.ts';
import { type CameraContext, CameraRuntime } from './camera-runtime.ts';

export class Cameras {
  private readonly byName = new Map<string, CameraRuntime>();

  constructor(configs: Record<string, CameraConfig>, ctx: CameraContext) {
    for (const [name, cfg] of Object.entries(configs)) this.byName.set(name, new CameraRuntime(name, cfg, ctx));
  }

  all(): CameraRuntime[] {
    return [...this.byName.values()];
  }

  get(name: string): Result<CameraRuntime> {
    const c = this.byName.get(name);
    return c ? ok(c) : err(`unknown camera '${name}' (cameras: ${[...this.byName.keys()].join(', ')})`);
  }

  /** One camera by name, or all of them without one (`set` without `camera`). */
  select(name: string | undefined): Result<CameraRuntime[]> {
    if (name === undefined) return ok(this.all());
    const c = this.get(name);
    return c.ok ? ok([c.value]) : c;
  }

  startAll(): void {
    for (const c of this.all()) c.start();
  }

  /** Sources stopped; events are closed separately, once inference has drained (`closeEvents`). */
  async stopAll(): Promise<void> {
    await Promise.all(this.all().map((c) => c.stop()));
  }

  async closeEvents(): Promise<void> {
    await Promise.all(this.all().map((c) => c.closeEvent()));
  }

  /** Sources scale to the model's input size: a model with another size needs them restarted. */
  async restartRunning(): Promise<void> {
    for (const c of this.all()) await c.restart();
  }
}

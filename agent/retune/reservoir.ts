// A bounded on-disk store of recent normal frames per camera: what a re-tune learns from.
// Admission is rate-limited so that the kept frames span time (lighting, wear) rather than one
// burst; when full, the oldest frame leaves.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';

export interface ReservoirOptions {
  dir: string;
  maxFrames: number;
  /** Minimum time between two admitted frames of one camera. */
  minIntervalMs: number;
}

export class NormalReservoir {
  private readonly lastAdmitted = new Map<string, number>();
  private readonly writing = new Set<string>();

  constructor(private readonly opts: ReservoirOptions) {}

  private cameraDir(camera: string): string {
    return path.join(this.opts.dir, camera);
  }

  /** Offers a frame judged normal; returns whether it was kept. Never throws: a full disk must not stop inspection. */
  async offer(camera: string, rgb: Uint8Array, width: number, height: number, ts: number): Promise<boolean> {
    const last = this.lastAdmitted.get(camera) ?? -Infinity;
    if (ts - last < this.opts.minIntervalMs || this.writing.has(camera)) return false;
    this.lastAdmitted.set(camera, ts);
    this.writing.add(camera);
    try {
      const dir = this.cameraDir(camera);
      await fs.mkdir(dir, { recursive: true });
      const name = `${String(ts).padStart(14, '0')}.png`;
      const tmp = path.join(dir, `.${name}.tmp`);
      await sharp(Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength), { raw: { width, height, channels: 3 } }).png().toFile(tmp);
      await fs.rename(tmp, path.join(dir, name));
      await this.trim(camera);
      return true;
    } catch {
      return false;
    } finally {
      this.writing.delete(camera);
    }
  }

  /** Paths of the kept frames of one camera (or all cameras), oldest first. */
  async list(camera?: string): Promise<string[]> {
    const cameras = camera ? [camera] : await fs.readdir(this.opts.dir).catch(() => [] as string[]);
    const all: string[] = [];
    for (const cam of cameras) {
      const dir = this.cameraDir(cam);
      const names = await fs.readdir(dir).catch(() => [] as string[]);
      all.push(...names.filter((n) => n.endsWith('.png') && !n.startsWith('.')).sort().map((n) => path.join(dir, n)));
    }
    return all;
  }

  private async trim(camera: string): Promise<void> {
    const files = await this.list(camera);
    for (const f of files.slice(0, Math.max(0, files.length - this.opts.maxFrames))) await fs.rm(f, { force: true });
  }
}

// A bounded on-disk store of recent normal frames per camera: what a re-tune learns from.
// Admission is rate-limited so that the kept frames span time (lighting, wear) rather than one
// burst; when full, the oldest frame leaves. A frame that cannot be written (full disk) is dropped,
// counted and logged once per episode: the reservoir must never stop inspection.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { writeFileAtomic } from '../../util/atomic-file.ts';
import { createLogger } from '../../util/log.ts';
import { createStoreFailures, type StoreFailures } from '../../util/store-failures.ts';

const log = createLogger('reservoir');

export interface ReservoirOptions {
  dir: string;
  maxFrames: number;
  /** Minimum time between two admitted frames of one camera. */
  minIntervalMs: number;
  /** Told about every admitted frame that could not be stored, by the errno code (Prometheus counter). */
  onDropped?: (reason: string, count: number) => void;
}

/** The entries of `dir`; none when it does not exist yet (nothing kept so far). Any other failure is the caller's to report. */
async function namesIn(dir: string): Promise<string[]> {
  try {
    return await fs.readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

export class NormalReservoir {
  private readonly lastAdmitted = new Map<string, number>();
  private readonly writing = new Set<string>();
  private readonly failures: StoreFailures;

  constructor(private readonly opts: ReservoirOptions) {
    this.failures = createStoreFailures({ log, what: 'normal frames', onDropped: opts.onDropped });
  }

  private cameraDir(camera: string): string {
    return path.join(this.opts.dir, camera);
  }

  /** Offers a frame judged normal; returns whether it was kept. Never throws: a full disk must not stop inspection. */
  async offer(camera: string, rgb: Uint8Array, width: number, height: number, ts: number): Promise<boolean> {
    const last = this.lastAdmitted.get(camera) ?? -Infinity;
    if (ts - last < this.opts.minIntervalMs || this.writing.has(camera)) return false;
    this.lastAdmitted.set(camera, ts);
    this.writing.add(camera);
    const dir = this.cameraDir(camera);
    try {
      // Encoded in memory, then written like every other file (temp file removed on failure), so a
      // full disk reports its errno; sharp's own file output would not.
      const png = await sharp(Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength), { raw: { width, height, channels: 3 } })
        .png()
        .toBuffer();
      await fs.mkdir(dir, { recursive: true });
      await writeFileAtomic(path.join(dir, `${String(ts).padStart(14, '0')}.png`), png);
    } catch (e) {
      this.failures.failed(e);
      return false;
    } finally {
      this.writing.delete(camera);
    }
    this.failures.stored();
    await this.trim(camera).catch((e: Error) => log.warn(`could not trim the reservoir of camera ${camera}: ${e.message}`));
    return true;
  }

  /** Paths of the kept frames of one camera (or all cameras), oldest first. */
  async list(camera?: string): Promise<string[]> {
    const cameras = camera ? [camera] : await namesIn(this.opts.dir);
    const all: string[] = [];
    for (const cam of cameras) {
      const dir = this.cameraDir(cam);
      const names = await namesIn(dir);
      all.push(
        ...names
          .filter((n) => n.endsWith('.png') && !n.startsWith('.'))
          .sort()
          .map((n) => path.join(dir, n)),
      );
    }
    return all;
  }

  private async trim(camera: string): Promise<void> {
    const files = await this.list(camera);
    for (const f of files.slice(0, Math.max(0, files.length - this.opts.maxFrames))) await fs.rm(f, { force: true });
  }
}

// A real full disk for the tests: a tmpfs of a few hundred KiB mounted on a temp dir (CI runs as
// root), filled to the last byte with a filler file. Deleting the filler gives the space back.
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface SmallTmpfs {
  dir: string;
  /** Fills the remaining space with `<dir>/filler` (until ENOSPC). */
  fill(): Promise<void>;
  /** Deletes the filler: the space is back. */
  free(): Promise<void>;
  unmount(): Promise<void>;
}

/** Why a tmpfs cannot be mounted here (not root, no mount), or null when it can. */
export function tmpfsUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'mounting a tmpfs needs root (CI runs as root)';
  try {
    execFileSync('mount', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'mount(8) is not installed';
  }
  return null;
}

export async function mountSmallTmpfs(size = '1m'): Promise<SmallTmpfs> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lw-tmpfs-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  const filler = path.join(dir, 'filler');
  return {
    dir,
    async fill() {
      const fh = await fs.open(filler, 'a');
      const chunk = Buffer.alloc(4096, 1);
      try {
        for (;;) await fh.write(chunk);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
      } finally {
        await fh.close();
      }
    },
    free: () => fs.rm(filler, { force: true }),
    async unmount() {
      execFileSync('umount', [dir]);
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

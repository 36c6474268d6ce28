import { promises as fs } from 'node:fs';
import path from 'node:path';

/**
 * Writes `data` to `file` so that a reader (or a restart after a crash) sees either the old
 * content or the new one, never a torn file: temp file in the same directory, fsync, rename,
 * fsync of the directory. On any failure (a full disk) the temp file is removed before the error
 * is thrown: a disk that fills up must not fill up further with half-written temp files.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  try {
    const fh = await fs.open(tmp, 'w');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, file);
  } catch (e) {
    await fs.rm(tmp, { force: true }).catch(() => {});
    throw e;
  }
  const dh = await fs.open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

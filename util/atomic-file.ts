import { promises as fs } from 'node:fs';
import path from 'node:path';

/**
 * Writes `data` to `file` so that a reader (or a restart after a crash) sees either the old
 * content or the new one, never a torn file: temp file in the same directory, fsync, rename,
 * fsync of the directory.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  const fh = await fs.open(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.rename(tmp, file);
  const dh = await fs.open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

// writeFileAtomic on a real full disk (a tmpfs): the write fails with ENOSPC and leaves no temp file.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeFileAtomic } from '../../util/atomic-file.ts';
import { mountSmallTmpfs, type SmallTmpfs, tmpfsUnavailable } from '../support/small-tmpfs.ts';

describe('writeFileAtomic on a full disk', { skip: tmpfsUnavailable() ?? false }, () => {
  let disk: SmallTmpfs;
  before(async () => {
    disk = await mountSmallTmpfs('256k');
  });
  after(() => disk.unmount());

  test('a failed write throws ENOSPC, leaves no temp file and the old content in place', async () => {
    const file = path.join(disk.dir, 'entry.msg');
    await writeFileAtomic(file, 'old');
    await disk.fill();
    await assert.rejects(writeFileAtomic(file, Buffer.alloc(64 * 1024, 7)), (e: NodeJS.ErrnoException) => e.code === 'ENOSPC');
    assert.deepEqual((await fs.readdir(disk.dir)).sort(), ['entry.msg', 'filler']);
    assert.equal(await fs.readFile(file, 'utf8'), 'old');
    await disk.free();
    await writeFileAtomic(file, 'new');
    assert.equal(await fs.readFile(file, 'utf8'), 'new');
  });
});

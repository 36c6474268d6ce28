import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { GENERATED_FILES } from '../scripts/generated-files.ts';

const REPO = path.resolve(import.meta.dirname, '..');

for (const file of GENERATED_FILES) {
  test(`${file.path} is what the generator writes`, () => {
    let committed: string;
    try {
      committed = readFileSync(path.join(REPO, file.path), 'utf8');
    } catch {
      assert.fail(`${file.path} is missing: run npx tsx scripts/generate.ts`);
    }
    assert.ok(committed === file.render(), `${file.path} differs from what its schemas generate: run npx tsx scripts/generate.ts`);
  });
}

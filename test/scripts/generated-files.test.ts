import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { GENERATED_FILES } from '../../scripts/generated-files.ts';
import { REPO_ROOT } from '../support/paths.ts';

for (const file of GENERATED_FILES) {
  test(`${file.path} is what the generator writes`, () => {
    let committed: string;
    try {
      committed = readFileSync(path.join(REPO_ROOT, file.path), 'utf8');
    } catch {
      assert.fail(`${file.path} is missing: run npx tsx scripts/generate.ts`);
    }
    assert.ok(committed === file.render(), `${file.path} differs from what its schemas generate: run npx tsx scripts/generate.ts`);
  });
}

// Writes every generated contract file (`npx tsx scripts/generate.ts`); see scripts/generated-files.ts.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { GENERATED_FILES } from './generated-files.ts';

const root = path.resolve(import.meta.dirname, '..');
for (const file of GENERATED_FILES) {
  const target = path.join(root, file.path);
  mkdirSync(path.dirname(target), { recursive: true });
  writeFileSync(target, file.render());
  console.log(`wrote ${file.path}`);
}

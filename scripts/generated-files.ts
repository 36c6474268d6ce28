// The one table of files generated from schemas (published contract files). scripts/generate.ts
// writes them and test/scripts/generated-files.test.ts fails when a committed copy differs from its render.
import { publishedSchema } from '../agent/config/schema.ts';
import { asyncApiDocument } from './asyncapi-document.ts';

export interface GeneratedFile {
  path: string /* repo-relative */;
  render(): string /* full file text, ends with \n */;
}

export const GENERATED_FILES: GeneratedFile[] = [
  { path: 'config/linewatch.schema.json', render: () => `${JSON.stringify(publishedSchema(), null, 2)}\n` },
  { path: 'docs/asyncapi.json', render: () => `${JSON.stringify(asyncApiDocument(), null, 2)}\n` },
];

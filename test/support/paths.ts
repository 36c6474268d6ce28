// Where things are, for tests anywhere in the test tree: the repository root and the fixtures.
import path from 'node:path';

export const REPO_ROOT = path.resolve(import.meta.dirname, '../..');
export const FIXTURES = path.join(REPO_ROOT, 'test/fixtures');
/** The tiny CLIP (OpenCLIP layout, with its hf/ twin) and its canonical reference outputs. */
export const TINY_CLIP = path.join(FIXTURES, 'clip-tiny');

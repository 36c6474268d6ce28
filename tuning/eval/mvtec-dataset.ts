// MVTec-AD-layout datasets: a category folder holds train/good/*, test/<type>/* (type 'good' is
// normal) and ground_truth/<type>/<name>_mask.png for every defect image. `--dataset` is either
// one category folder (it has train/good) or a root whose subfolders are categories.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { err, ok, type Result } from '../../util/result.ts';
import { listImageFiles } from '../images.ts';

export interface TestImage {
  path: string;
  /** Defect type: the test subfolder ('good' for normal images). */
  type: string;
  /** 1 = anomalous */
  label: 0 | 1;
  /** Ground-truth mask file; null for good images. */
  mask: string | null;
}

export interface Category {
  name: string;
  dir: string;
  train: string[];
  test: TestImage[];
}

const GOOD = 'good';

async function isDir(p: string): Promise<boolean> {
  return (await fs.stat(p).catch(() => null))?.isDirectory() ?? false;
}

async function subdirs(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  return entries
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort();
}

/** The categories under `root` (all, or those named in `only`, in that order). */
export async function discoverCategories(root: string, only: string[] = []): Promise<Result<Category[]>> {
  if (!(await isDir(root))) return err(`dataset ${root} is not a directory`);
  let dirs: string[];
  if (await isDir(path.join(root, 'train', GOOD))) {
    dirs = [root];
  } else {
    dirs = [];
    for (const name of await subdirs(root)) if (await isDir(path.join(root, name, 'train', GOOD))) dirs.push(path.join(root, name));
    if (dirs.length === 0) return err(`dataset ${root} is neither an MVTec-AD category (no train/good) nor a folder of categories`);
  }
  const byName = new Map(dirs.map((d) => [path.basename(path.resolve(d)), d]));
  if (only.length) {
    const missing = only.filter((n) => !byName.has(n));
    if (missing.length) return err(`dataset ${root} has no category ${missing.map((n) => `'${n}'`).join(', ')} (it has ${[...byName.keys()].join(', ')})`);
    dirs = only.map((n) => byName.get(n)!);
  }
  const categories: Category[] = [];
  for (const dir of dirs) {
    const category = await readCategory(dir);
    if (!category.ok) return category;
    categories.push(category.value);
  }
  return ok(categories);
}

async function readCategory(dir: string): Promise<Result<Category>> {
  const name = path.basename(path.resolve(dir));
  const train = await listImageFiles(path.join(dir, 'train', GOOD));
  if (!train.ok) return train;
  if (train.value.length === 0) return err(`category ${name}: no images in ${path.join(dir, 'train', GOOD)}`);
  const testDir = path.join(dir, 'test');
  if (!(await isDir(testDir))) return err(`category ${name}: ${testDir} is missing`);
  const test: TestImage[] = [];
  for (const type of await subdirs(testDir)) {
    const files = await listImageFiles(path.join(testDir, type));
    if (!files.ok) return files;
    for (const file of files.value) {
      if (type === GOOD) {
        test.push({ path: file, type, label: 0, mask: null });
        continue;
      }
      const mask = path.join(dir, 'ground_truth', type, `${path.parse(file).name}_mask.png`);
      if (!(await fs.stat(mask).catch(() => null))?.isFile()) return err(`category ${name}: ${file} has no ground-truth mask ${mask}`);
      test.push({ path: file, type, label: 1, mask });
    }
  }
  if (test.length === 0) return err(`category ${name}: no test images under ${testDir}`);
  return ok({ name, dir, train: train.value, test });
}

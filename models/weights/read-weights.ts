// Reads a CLIP checkpoint directory in either supported layout into `ClipWeights`.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { err, ok, type Result } from '../../util/result.ts';
import { type Activation, CLIP_MEAN, CLIP_STD, type ClipWeights, type Layout } from './clip-weights.ts';
import { type HfClipConfig, hfActivation, readHfText, readHfVision } from './hf-layout.ts';
import { type OpenClipConfig, openClipActivation, readOpenClipText, readOpenClipVision } from './openclip-layout.ts';
import { readSafetensors } from './safetensors.ts';
import { TensorSource } from './tensor-source.ts';

const LAYOUT_FILES: Record<Layout, { config: string; weights: string }> = {
  openclip: { config: 'open_clip_config.json', weights: 'open_clip_model.safetensors' },
  hf: { config: 'config.json', weights: 'model.safetensors' },
};

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

export async function detectLayout(dir: string): Promise<Result<Layout>> {
  for (const layout of ['openclip', 'hf'] as Layout[]) {
    const f = LAYOUT_FILES[layout];
    if ((await exists(path.join(dir, f.config))) && (await exists(path.join(dir, f.weights)))) return ok(layout);
  }
  if (!(await exists(dir))) return err(`weights directory ${dir} does not exist`);
  return err(
    `unknown weights layout in ${dir}: expected open_clip_config.json + open_clip_model.safetensors (OpenCLIP/OpenAI) ` +
      `or config.json + model.safetensors (Hugging Face CLIPModel)`,
  );
}

async function sha256(file: string): Promise<string> {
  return createHash('sha256')
    .update(await fs.readFile(file))
    .digest('hex');
}

async function readJson<T>(file: string): Promise<Result<T>> {
  try {
    return ok(JSON.parse(await fs.readFile(file, 'utf8')) as T);
  } catch (e) {
    return err(`cannot read ${file}: ${(e as Error).message}`);
  }
}

function checkActivation(act: string, file: string): Result<Activation> {
  if (act === 'quick_gelu' || act === 'gelu') return ok(act);
  return err(`${file}: activation '${act}' is not supported (quick_gelu or gelu)`);
}

export async function readClipWeights(dir: string): Promise<Result<ClipWeights>> {
  const layout = await detectLayout(dir);
  if (!layout.ok) return layout;
  const files = LAYOUT_FILES[layout.value];
  const configFile = path.join(dir, files.config);
  const weightsFile = path.join(dir, files.weights);
  const st = await readSafetensors(weightsFile);
  if (!st.ok) return st;
  const src = new TensorSource(st.value);

  let activation: Result<Activation>;
  let vision, text;
  let mean = CLIP_MEAN;
  let std = CLIP_STD;
  let eps = 1e-5;
  if (layout.value === 'openclip') {
    const cfg = await readJson<OpenClipConfig>(configFile);
    if (!cfg.ok) return cfg;
    activation = ok(openClipActivation(cfg.value));
    vision = readOpenClipVision(src, cfg.value);
    text = readOpenClipText(src, cfg.value);
    const pre = cfg.value.preprocess_cfg;
    if (pre?.mean?.length === 3) mean = pre.mean as [number, number, number];
    if (pre?.std?.length === 3) std = pre.std as [number, number, number];
  } else {
    const cfg = await readJson<HfClipConfig>(configFile);
    if (!cfg.ok) return cfg;
    activation = checkActivation(hfActivation(cfg.value), configFile);
    vision = readHfVision(src, cfg.value);
    text = readHfText(src, cfg.value);
    eps = cfg.value.vision_config?.layer_norm_eps ?? eps;
  }
  if (!activation.ok) return activation;
  const problems = [...src.problems];
  if (vision && (vision.width % vision.heads !== 0 || !Number.isInteger(vision.heads)))
    problems.push(`vision width ${vision.width} is not divisible into ${vision.heads} heads`);
  if (text && (text.width % text.heads !== 0 || !Number.isInteger(text.heads)))
    problems.push(`text width ${text.width} is not divisible into ${text.heads} heads`);
  if (vision && text && vision.projection.cols !== text.projection.cols)
    problems.push(`vision projection gives ${vision.projection.cols} dims but text projection ${text.projection.cols}`);
  if (vision && vision.blocks.length === 0) problems.push('no vision transformer blocks found');
  if (text && text.blocks.length === 0) problems.push('no text transformer blocks found');
  if (problems.length || !vision || !text) {
    return err(`${weightsFile} (${layout.value} layout) is not a usable CLIP checkpoint:\n  - ${problems.join('\n  - ')}`);
  }
  return ok({
    layout: layout.value,
    embedDim: vision.projection.cols,
    activation: activation.value,
    layerNormEps: eps,
    mean,
    std,
    vision,
    text,
    sources: [
      { file: path.basename(configFile), sha256: await sha256(configFile) },
      { file: path.basename(weightsFile), sha256: await sha256(weightsFile) },
    ],
  });
}

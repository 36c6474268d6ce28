// The model in force: the bundle, its identity, the prompt set the scorers use, and the engine
// running them. Loading resolves `model.bundle`, starts the engine on the configured providers and
// takes the store's current prompt set; a failed load leaves the running model in place. Prompt
// sets change between two batches (after a re-tune or a rollback) without stopping inference.
import { type Bundle, loadBundle } from '../../models/bundle/load.ts';
import { tensorrtCacheDir } from '../../models/runtime/tensorrt-engine-cache.ts';
import { bundleIdentity } from '../../tuning/bundle-identity.ts';
import type { PromptSet } from '../../tuning/prompt-set.ts';
import type { PromptStore } from '../../tuning/prompt-store.ts';
import type { Logger } from '../../util/log.ts';
import { err, ok, type Result } from '../../util/result.ts';
import type { AgentConfig } from '../config.ts';
import type { Engine } from '../engine/engine.ts';
import type { VisionModelSpec } from '../engine/protocol.ts';
import { type ActivePrompts, loadActivePrompts } from './active-prompts.ts';
import { metaTextEmbedsFor } from './meta-text-embeds.ts';
import { resolveBundle } from './model-resolver.ts';

export interface ActiveModelOptions {
  cfg: Pick<AgentConfig, 'model' | 'data_dir' | 'detector'>;
  engine: Engine;
  store: PromptStore;
  log: Logger;
  /** After every load, success or not (a TensorRT start has ended either way). */
  onLoadSettled: () => void;
  /** After a successful load: the bundle now in use. */
  onLoaded: (bundle: Bundle) => void;
}

interface Loaded {
  bundle: Bundle;
  identity: PromptSet['bundle'];
  /** The generated demo bundle: its scores mean nothing. */
  demo: boolean;
  prompts: ActivePrompts;
}

export class ActiveModel {
  private loaded: Loaded | null = null;

  constructor(private readonly o: ActiveModelOptions) {}

  /** The bundle in use; only read after a successful `load()`. */
  get bundle(): Bundle {
    return this.need().bundle;
  }

  /** The bundle's folder; empty before the first load. */
  get bundleDir(): string {
    return this.loaded?.bundle.dir ?? '';
  }

  get demo(): boolean {
    return this.loaded?.demo ?? false;
  }

  get prompts(): ActivePrompts {
    return this.need().prompts;
  }

  /** The prompt set's id, or null before the first load. */
  get promptSetId(): string | null {
    return this.loaded?.prompts.id ?? null;
  }

  get inputSize(): number {
    return this.bundle.manifest.vision.imageSize;
  }

  private need(): Loaded {
    if (!this.loaded) throw new Error('no model loaded yet');
    return this.loaded;
  }

  /** Loads (or swaps in) the configured bundle with its prompt set; on failure the running model stays. */
  async load(): Promise<Result<void>> {
    const { cfg, engine, log } = this.o;
    const resolved = await resolveBundle(cfg.model.bundle, cfg.model.precision, cfg.data_dir, log);
    if (!resolved.ok) return err(`model: ${resolved.error}`);
    const bundle = await loadBundle(resolved.value.dir);
    if (!bundle.ok) return err(`model: ${bundle.error}`);
    const identity = await bundleIdentity(bundle.value);
    let prompts: ActivePrompts;
    let provider: string;
    try {
      prompts = await this.loadPrompts(bundle.value, identity);
      provider = await engine.load(this.engineOptions(bundle.value, identity), prompts.scorers);
    } catch (e) {
      return err(`model ${bundle.value.dir}: ${(e as Error).message}`);
    } finally {
      this.o.onLoadSettled();
    }
    this.loaded = { bundle: bundle.value, identity, demo: resolved.value.demo, prompts };
    this.o.onLoaded(bundle.value);
    const precision = bundle.value.manifest.vision.precision;
    log.info(`model ${bundle.value.dir} (${precision}) on ${provider}, prompt set ${prompts.id}`);
    if (precision === 'int8' && provider !== 'cpu') {
      log.warn(`an int8 bundle on ${provider}: its MatMulInteger nodes fall back to the CPU; use a float32 bundle on a GPU`);
    }
    return ok(undefined);
  }

  private engineOptions(bundle: Bundle, identity: PromptSet['bundle']): VisionModelSpec {
    const { model, data_dir } = this.o.cfg;
    const m = bundle.manifest;
    const { vision, memory } = bundle.paths;
    return {
      visionPath: vision,
      imageSize: m.vision.imageSize,
      mean: m.preprocess.mean,
      std: m.preprocess.std,
      providers: model.execution_providers,
      threads: model.threads,
      settings: { tensorrt: model.tensorrt, cuda: model.cuda, tensorrtCacheDir: tensorrtCacheDir(data_dir, identity) },
      scorerGraphs: memory ? { memory } : {},
    };
  }

  private loadPrompts(bundle: Bundle, identity: PromptSet['bundle']): Promise<ActivePrompts> {
    const { store, log, cfg } = this.o;
    return loadActivePrompts({ store, bundle: identity, scorers: cfg.detector.scorers, metaTextEmbeds: () => metaTextEmbedsFor(bundle), log });
  }

  /** Applies the store's current prompt set (after a re-tune or a rollback) without stopping inference. */
  async swapPrompts(): Promise<ActivePrompts> {
    const current = this.need();
    const next = await this.loadPrompts(current.bundle, current.identity);
    await this.o.engine.setScorers(next.scorers);
    this.loaded = { ...current, prompts: next };
    this.o.log.info(`prompt set ${next.id} active`);
    return next;
  }
}

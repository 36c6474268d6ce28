// The running agent: assembles the modules (config -> bundle -> inference worker -> cameras ->
// detector -> MQTT/HTTP) and owns their lifecycle. Commands from MQTT and from the page go through
// one dispatcher into the handlers defined here.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import cron, { type ScheduledTask } from 'node-cron';
import { type Bundle, loadBundle } from '../models/bundle/load.ts';
import { tensorrtCacheDir } from '../models/runtime/tensorrt-engine-cache.ts';
import type { TensorrtStart } from '../models/session.ts';
import { bundleIdentity } from '../tuning/bundle-identity.ts';
import type { PromptSet } from '../tuning/prompt-set.ts';
import { PromptStore } from '../tuning/prompt-store.ts';
import { createLogger } from '../util/log.ts';
import { addKnownSecrets, redactDeep } from '../util/redact.ts';
import { err, ok, type Result } from '../util/result.ts';
import { type ActivePrompts, loadActivePrompts } from './active-prompts.ts';
import { createCamera } from './camera/camera.ts';
import { sourceCredentials } from './camera/source-spec.ts';
import { CameraRuntime } from './camera-runtime.ts';
import { createCommandDispatcher } from './commands/dispatcher.ts';
import type { CommandDispatcher, CommandHandlers, SetArgs } from './commands/types.ts';
import type { AgentConfig } from './config.ts';
import type { RetuneStatePayload, StatsPayload } from './contract/payloads.ts';
import { demoGuide } from './demo-guide.ts';
import { Engine } from './engine/engine.ts';
import { InferencePipeline } from './engine/pipeline.ts';
import { type AgentView, redactedView } from './http/agent-view.ts';
import { type AgentMetrics, createAgentMetrics } from './http/metrics.ts';
import { type RunningHttpServer, startHttpServer } from './http/server.ts';
import type { Integration } from './integrations/integration.ts';
import { observePublisher } from './integrations/observed-publisher.ts';
import { startIntegrations } from './integrations/start.ts';
import { metaTextEmbedsFor } from './meta-text-embeds.ts';
import { resolveBundle } from './model-resolver.ts';
import { type MqttLink, openMqttLink } from './mqtt/mqtt-link.ts';
import { NormalReservoir } from './retune/reservoir.ts';
import { type RetuneRequest, RetuneRunner } from './retune/retune-job.ts';

const log = createLogger('agent');
const STATS_INTERVAL_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
/** A retained message given up because the link stopped first (a failed start, a stop before the broker came). */
const notPublished = (what: string) => (e: Error) => log.debug(`${what} not published: ${e.message}`);

/** How often the log and P/status repeat what a TensorRT session start is doing, with the elapsed time. */
const ENGINE_STATE_INTERVAL_MS = 15_000;

function percentile(values: number[], p: number): number {
  if (!values.length) return 0;
  const sorted = values.slice().sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

export class Agent {
  readonly metrics: AgentMetrics = createAgentMetrics();
  private bundle!: Bundle;
  private bundleId!: PromptSet['bundle'];
  private demo = false;
  private prompts!: ActivePrompts;
  private readonly engine = new Engine((start) => this.onTensorrtStart(start));
  /** Set while a TensorRT session is being created (an engine build takes minutes). */
  private tensorrtStart: (TensorrtStart & { since: number; timer: NodeJS.Timeout }) | null = null;
  private readonly pipeline: InferencePipeline;
  private readonly cameras = new Map<string, CameraRuntime>();
  private readonly store: PromptStore;
  private readonly reservoir: NormalReservoir;
  private readonly runner: RetuneRunner;
  private readonly dispatcher: CommandDispatcher;
  private link: MqttLink | null = null;
  private integrations: Integration[] = [];
  private http: RunningHttpServer | null = null;
  private cronTask: ScheduledTask | null = null;
  private statsTimer: NodeJS.Timeout | null = null;
  private lastRetuneEnd = 0;
  private giveUp: (reason: string) => void = () => {};
  /** Resolves with the reason when the agent cannot go on: another agent took its device id over. */
  readonly failure = new Promise<string>((resolve) => (this.giveUp = resolve));
  /** Counters at the previous stats tick, for rates and Prometheus increments. */
  private readonly lastProcessed = new Map<string, number>();
  private readonly lastSkipped = new Map<string, number>();

  constructor(private readonly cfg: AgentConfig) {
    addKnownSecrets([cfg.mqtt.password, cfg.mqtt.command_secret, ...Object.values(cfg.cameras).flatMap((c) => sourceCredentials(c.source))]);
    this.store = new PromptStore(path.join(cfg.data_dir, 'prompts'), { keep: 5 });
    this.reservoir = new NormalReservoir({
      dir: path.join(cfg.data_dir, 'reservoir'),
      maxFrames: cfg.retune.max_normals,
      minIntervalMs: cfg.retune.sample_interval_s * 1000,
      onDropped: (reason, n) => this.metrics.reservoirDropped.inc({ reason }, n),
    });
    this.pipeline = new InferencePipeline(
      this.engine,
      (s) => {
        const received = Date.now();
        void this.cameras
          .get(s.frame.camera)
          ?.handle(s, received)
          .catch((e) => log.error(`camera ${s.frame.camera}: ${(e as Error).message}`));
      },
      (e) => log.error(`inference failed: ${e.message}`),
    );
    this.runner = new RetuneRunner({
      store: this.store,
      workDir: path.join(cfg.data_dir, 'retune'),
      reservoir: this.reservoir,
      minNormals: cfg.retune.min_normals,
      maxNormals: cfg.retune.max_normals,
      steps: cfg.retune.steps,
      providers: cfg.model.execution_providers,
      log: createLogger('retune'),
      onState: (s) => this.onRetuneState(s),
    });
    this.dispatcher = createCommandDispatcher(this.handlers(), { secret: cfg.mqtt.command_secret });
  }

  get isDemo(): boolean {
    return this.demo;
  }

  /**
   * Starts everything; an error here is a start-up failure worth exiting for. On failure whatever
   * had started (MQTT link, worker) is stopped again before the error is returned.
   */
  async start(): Promise<Result<void>> {
    const started = await this.startParts().catch((e: Error) => err<void>(e.message));
    if (!started.ok) await this.stop();
    return started;
  }

  private async startParts(): Promise<Result<void>> {
    try {
      await fs.mkdir(this.cfg.data_dir, { recursive: true });
    } catch (e) {
      return err(`cannot create data_dir ${this.cfg.data_dir}: ${(e as Error).message}`);
    }
    await this.runner.removeLeftovers();

    // MQTT and the page come up before the model, so that a TensorRT engine build (minutes on a
    // first start) is visible on P/status, /healthz and the page while it runs.
    const link = await openMqttLink({
      mqtt: this.cfg.mqtt,
      deviceId: this.cfg.device_id,
      dataDir: this.cfg.data_dir,
      resultRateHz: this.cfg.detector.result_rate_hz,
      dispatcher: this.dispatcher,
      commandSecret: this.cfg.mqtt.command_secret,
      onDeviceIdTaken: (reason) => this.giveUp(reason),
      onEvicted: (n) => this.metrics.outboxEvicted.inc(n),
      onDropped: (reason, n) => this.metrics.outboxDropped.inc({ reason }, n),
      availability: () => this.availability(),
    });
    if (!link.ok) return err(`mqtt: ${link.error}`);
    this.integrations = await startIntegrations(this.cfg, link.value, this.dispatcher);
    this.link = { ...link.value, publisher: observePublisher(link.value.publisher, this.integrations) };
    link.value.connection.onConnectionChange((up) => this.metrics.mqttConnected.set(up ? 1 : 0));
    this.link.publisher.retuneState(this.runner.state).catch(notPublished('re-tune state'));

    if (this.cfg.http.enabled) {
      const http = await startHttpServer({
        host: this.cfg.http.host,
        port: this.cfg.http.port,
        allowedHosts: this.cfg.http.allowed_hosts,
        view: redactedView(this.view()),
        dispatcher: this.dispatcher,
        metrics: this.metrics,
      });
      if (!http.ok) return http;
      this.http = http.value;
      log.info(`live page on http://${http.value.host}:${http.value.port}/`);
    }

    const model = await this.loadModel();
    if (!model.ok) return model;

    this.pipeline.start();
    for (const [name, camCfg] of Object.entries(this.cfg.cameras)) this.addCamera(name, camCfg.enabled);
    this.statsTimer = setInterval(() => this.publishStats(), STATS_INTERVAL_MS);
    if (this.cfg.retune.cron) {
      this.cronTask = cron.schedule(this.cfg.retune.cron, () => this.scheduledRetune(), { noOverlap: true });
    }
    if (this.demo) {
      log.warn('DEMO model with random weights: scores mean nothing until real CLIP weights are used (model.bundle)');
      log.info(this.demoGuide());
    }
    return ok(undefined);
  }

  private demoGuide(): string {
    // Host and port only: a configured broker URL may carry credentials.
    const broker = new URL(this.mqttUrl ?? this.cfg.mqtt.url);
    return demoGuide({
      page: this.httpAddress,
      broker: { host: broker.hostname, port: Number(broker.port) || (broker.protocol === 'mqtts:' ? 8883 : 1883) },
      topicRoot: this.link!.topics.root,
      dataDir: this.cfg.data_dir,
    });
  }

  get httpAddress(): { host: string; port: number } | null {
    return this.http ? { host: this.http.host, port: this.http.port } : null;
  }

  get mqttUrl(): string | null {
    const b = this.link?.broker;
    return b ? `mqtt://${b.host}:${b.port}` : this.cfg.mqtt.url;
  }

  /** Loads (or swaps in) the configured bundle with its prompt set; on failure the running model stays. */
  private async loadModel(): Promise<Result<void>> {
    const resolved = await resolveBundle(this.cfg.model.bundle, this.cfg.model.precision, this.cfg.data_dir, log);
    if (!resolved.ok) return err(`model: ${resolved.error}`);
    const bundle = await loadBundle(resolved.value.dir);
    if (!bundle.ok) return err(`model: ${bundle.error}`);
    const identity = await bundleIdentity(bundle.value);
    let prompts: ActivePrompts;
    let provider: string;
    try {
      prompts = await this.loadPrompts(bundle.value, identity);
      const m = bundle.value.manifest;
      const settings = { tensorrt: this.cfg.model.tensorrt, cuda: this.cfg.model.cuda, tensorrtCacheDir: tensorrtCacheDir(this.cfg.data_dir, identity) };
      const { vision, memory } = bundle.value.paths;
      provider = await this.engine.load(
        {
          visionPath: vision,
          imageSize: m.vision.imageSize,
          mean: m.preprocess.mean,
          std: m.preprocess.std,
          providers: this.cfg.model.execution_providers,
          threads: this.cfg.model.threads,
          settings,
          scorerGraphs: memory ? { memory } : {},
        },
        prompts.scorers,
      );
    } catch (e) {
      return err(`model ${bundle.value.dir}: ${(e as Error).message}`);
    } finally {
      this.endTensorrtStart();
    }
    this.bundle = bundle.value;
    this.bundleId = identity;
    this.demo = resolved.value.demo;
    this.prompts = prompts;
    this.runner.setBundle(bundle.value.dir);
    const precision = bundle.value.manifest.vision.precision;
    log.info(`model ${bundle.value.dir} (${precision}) on ${provider}, prompt set ${prompts.id}`);
    if (precision === 'int8' && provider !== 'cpu') {
      log.warn(`an int8 bundle on ${provider}: its MatMulInteger nodes fall back to the CPU; use a float32 bundle on a GPU`);
    }
    return ok(undefined);
  }

  private onTensorrtStart(start: TensorrtStart): void {
    this.endTensorrtStart();
    const timer = setInterval(() => this.sayEngineState(), ENGINE_STATE_INTERVAL_MS);
    this.tensorrtStart = { ...start, since: Date.now(), timer };
    this.publishAvailability();
  }

  private endTensorrtStart(): void {
    if (!this.tensorrtStart) return;
    clearInterval(this.tensorrtStart.timer);
    this.tensorrtStart = null;
    this.publishAvailability();
  }

  private sayEngineState(): void {
    log.info(this.tensorrtStartText() ?? 'inference engine ready');
    this.publishAvailability();
  }

  /** P/status: `online`, or what the engine is doing while a TensorRT session is created (not online yet). */
  private availability(): string {
    return this.tensorrtStartText() ?? 'online';
  }

  private publishAvailability(): void {
    const link = this.link;
    if (link?.connection.connected) void link.connection.publish(link.topics.status, this.availability(), { qos: 1, retain: true }).catch(() => {});
  }

  /** What the inference engine is doing while a TensorRT session is created, with the elapsed time. */
  private tensorrtStartText(): string | null {
    const s = this.tensorrtStart;
    if (!s) return null;
    const elapsed = `${Math.round((Date.now() - s.since) / 1000)} s`;
    return s.cached
      ? `loading the cached TensorRT engine for ${s.graph}, ${elapsed}`
      : `building TensorRT engine for ${s.graph} (first start with this bundle), ${elapsed}`;
  }

  private loadPrompts(bundle = this.bundle, identity = this.bundleId): Promise<ActivePrompts> {
    return loadActivePrompts({ store: this.store, bundle: identity, scorers: this.cfg.detector.scorers, metaTextEmbeds: () => metaTextEmbedsFor(bundle), log });
  }

  /** Applies the store's current prompt set (after a re-tune or a rollback) without stopping inference. */
  private async swapPrompts(): Promise<ActivePrompts> {
    const next = await this.loadPrompts();
    await this.engine.setScorers(next.scorers);
    this.prompts = next;
    log.info(`prompt set ${next.id} active`);
    return next;
  }

  private addCamera(name: string, enabled: boolean): void {
    const c = this.cfg.cameras[name];
    const d = this.cfg.detector;
    const runtime = new CameraRuntime(
      name,
      c,
      {
        publisher: () => this.link?.publisher ?? null,
        metrics: this.metrics,
        reservoir: this.reservoir,
        prompts: () => this.prompts,
        scorers: d.scorers,
        publishMasks: d.publish_masks,
      },
      {
        sensitivity: d.sensitivity,
        rules: { openFrames: d.event_open_frames, closeFrames: d.event_close_frames, updateIntervalMs: d.event_update_interval_s * 1000 },
      },
    );
    this.cameras.set(name, runtime);
    if (enabled) this.startCamera(runtime);
    else runtime.setStatus({ state: 'disabled', reason: 'disabled in the configuration' });
  }

  private startCamera(runtime: CameraRuntime): void {
    const size = { width: this.bundle.manifest.vision.imageSize, height: this.bundle.manifest.vision.imageSize };
    runtime.supervisor = createCamera(runtime.name, runtime.cfg, size, {
      onFrame: (frame) => this.pipeline.offer(frame),
      onStatus: (s) => runtime.setStatus(s),
    });
    runtime.supervisor.start();
  }

  private async setCameraEnabled(runtime: CameraRuntime, enabled: boolean): Promise<void> {
    if (enabled && !runtime.supervisor) this.startCamera(runtime);
    if (!enabled && runtime.supervisor) {
      const sup = runtime.supervisor;
      runtime.supervisor = null;
      await sup.stop();
      runtime.setStatus({ state: 'disabled', reason: 'disabled by command' });
    }
  }

  private onRetuneState(s: RetuneStatePayload): void {
    this.metrics.setRetuneState(s.state);
    this.link?.publisher.retuneState(s).catch(notPublished('re-tune state'));
    if (s.state === 'done' || s.state === 'rejected' || s.state === 'failed') {
      this.metrics.retunes.inc({ outcome: s.state });
      this.lastRetuneEnd = Date.now();
      if (s.message) log.info(`re-tune ${s.state}: ${s.message}`);
    }
    if (s.state === 'done') void this.swapPrompts().catch((e) => log.error(`could not apply the new prompt set: ${(e as Error).message}`));
  }

  /** One gate for every trigger: a job at a time (the runner), and retune.min_interval_s between jobs. */
  private startRetune(req: RetuneRequest): Result<{ job_id: string }> {
    const since = (Date.now() - this.lastRetuneEnd) / 1000;
    if (this.lastRetuneEnd && since < this.cfg.retune.min_interval_s) {
      return err(`the last re-tune ended ${Math.round(since)} s ago; retune.min_interval_s is ${this.cfg.retune.min_interval_s} s`);
    }
    const started = this.runner.start(req);
    return started.ok ? ok({ job_id: started.value.jobId }) : started;
  }

  private scheduledRetune(): void {
    const started = this.startRetune({ trigger: 'cron' });
    if (!started.ok) log.info(`scheduled re-tune skipped: ${started.error}`);
  }

  private camera(name: string): Result<CameraRuntime> {
    const c = this.cameras.get(name);
    return c ? ok(c) : err(`unknown camera '${name}' (cameras: ${[...this.cameras.keys()].join(', ')})`);
  }

  private handlers(): CommandHandlers {
    return {
      retune: async (args) => {
        if (args.camera) {
          const c = this.camera(args.camera);
          if (!c.ok) return c;
        }
        return this.startRetune({ trigger: 'command', camera: args.camera });
      },
      rollback: async () => {
        const r = await this.store.rollback();
        if (!r.ok) return r;
        const active = await this.swapPrompts();
        return ok({ prompt_set: active.id });
      },
      reload: async () => {
        const size = this.bundle.manifest.vision.imageSize;
        const r = await this.loadModel();
        if (!r.ok) return r;
        // Cameras scale to the model's input size: a bundle with another size needs them restarted.
        if (this.bundle.manifest.vision.imageSize !== size) {
          for (const c of this.cameras.values()) {
            if (!c.supervisor) continue;
            await this.setCameraEnabled(c, false);
            await this.setCameraEnabled(c, true);
          }
        }
        return ok({ bundle: this.bundle.dir, prompt_set: this.prompts.id, provider: this.engine.provider });
      },
      set: async (args) => this.applySet(args),
      snapshot: async (args) => {
        const c = this.camera(args.camera);
        if (!c.ok) return c;
        const snap = await c.value.snapshotPng();
        if (!snap) return err(`camera '${args.camera}' has not delivered a frame yet`);
        const file = path.join(this.cfg.data_dir, 'snapshots', `${args.camera}-${snap.ts}-${snap.frameId}.png`);
        await fs.mkdir(path.dirname(file), { recursive: true });
        await fs.writeFile(file, snap.png);
        return ok({ path: file, frame_id: snap.frameId, ts: snap.ts, score: snap.score, anomalous: snap.anomalous });
      },
      status: async () => ok(this.stats()),
    };
  }

  private async applySet(args: SetArgs): Promise<Result<unknown>> {
    const targets = args.camera ? [this.camera(args.camera)] : [...this.cameras.values()].map((c) => ok(c));
    const bad = targets.find((t) => !t.ok);
    if (bad && !bad.ok) return bad;
    const runtimes = targets.map((t) => (t as { ok: true; value: CameraRuntime }).value);
    for (const c of runtimes) {
      if (args.sensitivity !== undefined) {
        c.tuning.sensitivity = args.sensitivity;
        const d = this.cfg.detector;
        c.detector.setSettings({
          sensitivity: args.sensitivity,
          rules: { openFrames: d.event_open_frames, closeFrames: d.event_close_frames, updateIntervalMs: d.event_update_interval_s * 1000 },
        });
      }
      if (args.threshold !== undefined) c.tuning.threshold = args.threshold;
      if (args.enabled !== undefined) await this.setCameraEnabled(c, args.enabled);
    }
    return ok(Object.fromEntries(runtimes.map((c) => [c.name, { ...c.tuning, enabled: c.status.state !== 'disabled' }])));
  }

  private stats(): StatsPayload {
    const outbox = this.link?.outbox;
    const mem = process.memoryUsage();
    const last = this.runner.state;
    const window = STATS_INTERVAL_MS / 1000;
    return {
      ts: Date.now(),
      cameras: Object.fromEntries(
        [...this.cameras.values()].map((c) => {
          const slot = this.pipeline.slot(c.name);
          const fps = (c.processed - (this.lastProcessed.get(c.name) ?? 0)) / window;
          return [c.name, { fps: Math.round(fps * 100) / 100, processed: c.processed, skipped: slot.dropped }];
        }),
      ),
      inference_ms: { p50: percentile(this.pipeline.inferMs, 0.5), p95: percentile(this.pipeline.inferMs, 0.95) },
      provider: this.engine.provider,
      prompt_set: this.prompts?.id ?? null,
      last_retune: this.lastRetuneEnd ? { ts: this.lastRetuneEnd, outcome: last.state } : null,
      outbox: { depth: outbox?.depth ?? 0, bytes: outbox?.bytes ?? 0, evicted: outbox?.evicted ?? 0, dropped: { ...outbox?.dropped } },
      memory: { rss_mb: Math.round(mem.rss / 2 ** 20), heap_mb: Math.round(mem.heapUsed / 2 ** 20) },
    };
  }

  private publishStats(): void {
    const s = this.stats();
    for (const c of this.cameras.values()) {
      const skippedBefore = this.lastSkipped.get(c.name) ?? 0;
      const skipped = this.pipeline.slot(c.name).dropped;
      this.metrics.framesSkipped.inc({ camera: c.name }, skipped - skippedBefore);
      this.lastSkipped.set(c.name, skipped);
      this.lastProcessed.set(c.name, c.processed);
    }
    this.metrics.outboxDepth.set(s.outbox.depth);
    this.link?.publisher.stats(redactDeep(s));
  }

  private view(): AgentView {
    return {
      state: () => ({
        device_id: this.cfg.device_id,
        demo: this.demo,
        bundle: this.bundle?.dir ?? '',
        ...(this.tensorrtStart ? { engine: this.tensorrtStartText()! } : {}),
        mqtt_connected: this.link?.connection.connected ?? false,
        retune: this.runner.state,
        cameras: [...this.cameras.values()].map((c) => c.snapshot()),
      }),
      frame: async (cam) => {
        const b = await this.cameras.get(cam)?.viewFrame();
        return b ? { bytes: b, contentType: 'image/jpeg' } : null;
      },
      mask: async (cam) => (await this.cameras.get(cam)?.viewMask()) ?? null,
      health: () => {
        const checks: Record<string, { ok: boolean; detail?: string }> = {
          mqtt: { ok: this.link?.connection.connected ?? false },
          inference: { ok: this.engine.provider !== 'none', detail: this.tensorrtStartText() ?? this.engine.provider },
        };
        for (const c of this.cameras.values()) {
          if (c.status.state === 'disabled') continue;
          checks[`camera ${c.name}`] = { ok: c.status.state === 'online', ...(c.status.reason ? { detail: c.status.reason } : {}) };
        }
        return { healthy: Object.values(checks).every((c) => c.ok), checks };
      },
    };
  }

  /** Graceful stop: cameras ended, open events closed, outbox flushed, `stopped` published. */
  async stop(): Promise<void> {
    this.cronTask?.stop();
    if (this.statsTimer) clearInterval(this.statsTimer);
    await Promise.all(
      [...this.cameras.values()].map(async (c) => {
        const sup = c.supervisor;
        c.supervisor = null;
        await sup?.stop();
      }),
    );
    await this.pipeline.stop();
    await Promise.all([...this.cameras.values()].map((c) => c.closeEvent()));
    await this.runner.abort();
    await this.http?.stop();
    await Promise.all(this.integrations.map((i) => i.stop(STOP_TIMEOUT_MS)));
    await this.link?.stop(STOP_TIMEOUT_MS);
    await this.engine.close();
  }
}

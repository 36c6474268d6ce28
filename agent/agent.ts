// The running agent, as a composition root: builds the parts (model, inference pipeline, cameras,
// re-tuning, MQTT link and integrations, HTTP page) and wires them, then starts and stops them in
// order. What each part does lives in its folder; commands from MQTT and from the page go through
// one dispatcher into agent/commands/handlers.ts.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { PromptStore } from '../tuning/prompt-store.ts';
import { createLogger } from '../util/log.ts';
import { addKnownSecrets, redactDeep } from '../util/redact.ts';
import { err, ok, type Result } from '../util/result.ts';
import { Cameras } from './camera/cameras.ts';
import { sourceCredentials } from './camera/source-spec.ts';
import { createCommandDispatcher } from './commands/dispatcher.ts';
import { createCommandHandlers } from './commands/handlers.ts';
import type { CommandDispatcher } from './commands/types.ts';
import type { AgentConfig } from './config.ts';
import { demoGuide } from './demo-guide.ts';
import { Engine } from './engine/engine.ts';
import { EngineStartStatus } from './engine/engine-start-status.ts';
import { InferencePipeline } from './engine/pipeline.ts';
import { agentView, redactedView } from './http/agent-view.ts';
import { type RunningHttpServer, startHttpServer } from './http/server.ts';
import type { Integration } from './integrations/integration.ts';
import { observePublisher } from './integrations/observed-publisher.ts';
import { startIntegrations } from './integrations/start.ts';
import { ActiveModel } from './model/active-model.ts';
import { type MqttLink, openMqttLink } from './mqtt/mqtt-link.ts';
import { NormalReservoir } from './retune/reservoir.ts';
import { RetuneRunner } from './retune/retune-job.ts';
import { RetuneTrigger } from './retune/retune-trigger.ts';
import { DeviceStats, STATS_INTERVAL_MS } from './stats/device-stats.ts';
import { type AgentMetrics, createAgentMetrics } from './stats/prometheus-metrics.ts';

const log = createLogger('agent');
const STOP_TIMEOUT_MS = 5_000;
/** A retained message given up because the link stopped first (a failed start, a stop before the broker came). */
const notPublished = (what: string) => (e: Error) => log.debug(`${what} not published: ${e.message}`);

export class Agent {
  readonly metrics: AgentMetrics = createAgentMetrics();
  private readonly engineStart = new EngineStartStatus(() => this.onEngineStartChange());
  private readonly engine = new Engine((start) => this.engineStart.begin(start));
  private readonly pipeline = new InferencePipeline(this.engine, (e) => log.error(`inference failed: ${e.message}`));
  private readonly store: PromptStore;
  private readonly model: ActiveModel;
  private readonly reservoir: NormalReservoir;
  private readonly cameras: Cameras;
  private readonly runner: RetuneRunner;
  private readonly retune: RetuneTrigger;
  private readonly stats: DeviceStats;
  private readonly dispatcher: CommandDispatcher;
  private link: MqttLink | null = null;
  private integrations: Integration[] = [];
  private http: RunningHttpServer | null = null;
  private statsTimer: NodeJS.Timeout | null = null;
  private giveUp: (reason: string) => void = () => {};
  /** Resolves with the reason when the agent cannot go on: another agent took its device id over. */
  readonly failure = new Promise<string>((resolve) => (this.giveUp = resolve));

  constructor(private readonly cfg: AgentConfig) {
    addKnownSecrets([cfg.mqtt.password, cfg.mqtt.command_secret, ...Object.values(cfg.cameras).flatMap((c) => sourceCredentials(c.source))]);
    this.store = new PromptStore(path.join(cfg.data_dir, 'prompts'), { keep: 5 });
    this.reservoir = new NormalReservoir({
      dir: path.join(cfg.data_dir, 'reservoir'),
      maxFrames: cfg.retune.max_normals,
      minIntervalMs: cfg.retune.sample_interval_s * 1000,
      onDropped: (reason, n) => this.metrics.reservoirDropped.inc({ reason }, n),
    });
    this.runner = new RetuneRunner({
      store: this.store,
      workDir: path.join(cfg.data_dir, 'retune'),
      reservoir: this.reservoir,
      minNormals: cfg.retune.min_normals,
      maxNormals: cfg.retune.max_normals,
      steps: cfg.retune.steps,
      providers: cfg.model.execution_providers,
      scorers: cfg.detector.scorers,
      log: createLogger('retune'),
      onState: (s) => this.retune.onState(s),
    });
    this.model = new ActiveModel({
      cfg,
      engine: this.engine,
      store: this.store,
      log,
      onLoadSettled: () => this.engineStart.end(),
      onLoaded: (bundle) => this.runner.setBundle(bundle.dir),
    });
    this.retune = new RetuneTrigger({
      runner: this.runner,
      minIntervalS: cfg.retune.min_interval_s,
      metrics: this.metrics,
      log,
      publish: (s) => this.link?.publisher.retuneState(s).catch(notPublished('re-tune state')),
      applyNewPrompts: () => this.model.swapPrompts(),
    });
    this.cameras = new Cameras(cfg.cameras, {
      publisher: () => this.link?.publisher ?? null,
      metrics: this.metrics,
      reservoir: this.reservoir,
      model: this.model,
      offer: (frame, deliver) => this.pipeline.offer(frame, deliver),
      detector: cfg.detector,
    });
    this.stats = new DeviceStats({
      cameras: this.cameras,
      pipeline: this.pipeline,
      engine: this.engine,
      model: this.model,
      retune: this.retune,
      metrics: this.metrics,
      link: () => this.link,
    });
    const handlers = createCommandHandlers({
      cameras: this.cameras,
      model: this.model,
      engine: this.engine,
      store: this.store,
      retune: this.retune,
      stats: () => this.stats.current(),
      dataDir: cfg.data_dir,
    });
    this.dispatcher = createCommandDispatcher(handlers, { secret: cfg.mqtt.command_secret });
  }

  get isDemo(): boolean {
    return this.model.demo;
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
    const linked = await this.startLink();
    if (!linked.ok) return linked;
    const served = await this.startHttp();
    if (!served.ok) return served;

    const model = await this.model.load();
    if (!model.ok) return model;

    this.pipeline.start();
    this.cameras.startAll();
    this.statsTimer = setInterval(() => this.link?.publisher.stats(redactDeep(this.stats.tick())), STATS_INTERVAL_MS);
    if (this.cfg.retune.cron) this.retune.schedule(this.cfg.retune.cron);
    if (this.model.demo) {
      log.warn('DEMO model with random weights: scores mean nothing until real CLIP weights are used (model.bundle)');
      log.info(this.demoGuide());
    }
    return ok(undefined);
  }

  private async startLink(): Promise<Result<void>> {
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
    return ok(undefined);
  }

  private async startHttp(): Promise<Result<void>> {
    if (!this.cfg.http.enabled) return ok(undefined);
    const view = agentView({
      deviceId: this.cfg.device_id,
      model: this.model,
      engine: this.engine,
      engineStart: this.engineStart,
      cameras: this.cameras,
      runner: this.runner,
      link: () => this.link,
      store: this.store,
    });
    const http = await startHttpServer({
      host: this.cfg.http.host,
      port: this.cfg.http.port,
      allowedHosts: this.cfg.http.allowed_hosts,
      view: redactedView(view),
      dispatcher: this.dispatcher,
      metrics: this.metrics,
    });
    if (!http.ok) return http;
    this.http = http.value;
    log.info(`live page on http://${http.value.host}:${http.value.port}/`);
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

  /** P/status: `online`, or what the engine is doing while a TensorRT session is created (not online yet). */
  private availability(): string {
    return this.engineStart.text() ?? 'online';
  }

  private onEngineStartChange(): void {
    log.info(this.engineStart.text() ?? 'inference engine ready');
    const link = this.link;
    if (link?.connection.connected) void link.connection.publish(link.topics.status, this.availability(), { qos: 1, retain: true }).catch(() => {});
  }

  /** Graceful stop: cameras ended, open events closed, outbox flushed, `stopped` published. */
  async stop(): Promise<void> {
    this.retune.stop();
    if (this.statsTimer) clearInterval(this.statsTimer);
    await this.cameras.stopAll();
    await this.pipeline.stop();
    await this.cameras.closeEvents();
    await this.runner.abort();
    await this.http?.stop();
    await Promise.all(this.integrations.map((i) => i.stop(STOP_TIMEOUT_MS)));
    await this.link?.stop(STOP_TIMEOUT_MS);
    await this.engine.close();
  }
}

// One re-tune at a time: snapshot the normal reservoir, run `linewatch tune` as a low-priority
// child process (the same code path as the CLI; inference keeps the CPU it needs), follow its
// progress, activate the set it produced if the gate accepted it, and report. The caller
// hot-swaps an accepted set.
//
// The agent is the only writer of `current`: the tuner runs with --no-activate and reports the
// new set's id on its progress stream; the runner activates exactly that id. The tuner gets a
// pipe only the agent holds (--parent-pipe): if the agent dies, even by SIGKILL, the tuner exits
// without writing. The job's work dir goes on every outcome, and a stale one (an agent killed
// mid-job) at the next start.
import { type ChildProcess, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { PromptStore } from '../../tuning/prompt-store.ts';
import type { ScorerName } from '../../tuning/scorer-names.ts';
import type { Logger } from '../../util/log.ts';
import { err, ok, type Result } from '../../util/result.ts';
import type { RetuneStatePayload } from '../contract/payloads.ts';
import { parseTuneProgressLine, type TuneProgressLine } from '../contract/tune-progress.ts';
import type { NormalReservoir } from './reservoir.ts';

type RetuneState = RetuneStatePayload;
const idle = (): RetuneState => ({ state: 'idle', progress: 0, ts: Date.now() });

const CLI = fileURLToPath(new URL('../../bin/linewatch.js', import.meta.url));
const PROGRESS_INTERVAL_MS = 1000;
const PARENT_PIPE_FD = 3;
const PHASE_SPAN: Record<string, [number, number]> = {
  synthesis: [0.05, 0.15],
  features: [0.15, 0.35],
  steps: [0.35, 0.9],
  calibration: [0.9, 0.97],
};

export interface RetuneJobOptions {
  /** Where the tuner writes the set, and where the runner activates it. */
  store: PromptStore;
  workDir: string;
  reservoir: NormalReservoir;
  minNormals: number;
  maxNormals: number;
  steps: number;
  /** model.execution_providers: the tuner tries them too (cpu added last); absent: cpu only. */
  providers?: readonly string[];
  /** detector.scorers: the tuner's gate judges the scorers this agent combines, in its order (`tune --scorers`). */
  scorers: readonly ScorerName[];
  log: Logger;
  onState: (s: RetuneState) => void;
}

export interface RetuneRequest {
  trigger: NonNullable<RetuneState['trigger']>;
  camera?: string;
  steps?: number;
}

/**
 * Copies the reservoir's frames into the job's folder: the reservoir keeps rotating while the job
 * runs, so a frame may be gone by the time it is copied; those are skipped. Returns how many were copied.
 */
async function copyNormals(files: string[], dir: string): Promise<number> {
  await fs.mkdir(dir, { recursive: true });
  const copied = await Promise.all(
    files.map((f, i) =>
      fs.copyFile(f, path.join(dir, `${String(i).padStart(4, '0')}-${path.basename(f)}`)).then(
        () => 1,
        (e: NodeJS.ErrnoException) => {
          if (e.code === 'ENOENT') return 0;
          throw e;
        },
      ),
    ),
  );
  return copied.reduce((a, b) => a + b, 0);
}

export class RetuneRunner {
  private current: RetuneState = idle();
  private running = false;
  private lastEmitted = 0;
  private bundleDir = '';
  private child: ChildProcess | null = null;
  private job: Promise<unknown> | null = null;
  private stopping = false;

  constructor(private readonly opts: RetuneJobOptions) {}

  /** The bundle the next job tunes for (the one inference runs). */
  setBundle(dir: string): void {
    this.bundleDir = dir;
  }

  /** Ends a running job's tuner (agent shutdown); resolves once the job reported `failed` and removed its work dir. */
  async abort(): Promise<void> {
    this.stopping = true;
    this.child?.kill('SIGTERM');
    await this.job;
  }

  /** Removes work dirs that an agent killed mid-job left behind (call before the first job). */
  async removeLeftovers(): Promise<void> {
    for (const name of await fs.readdir(this.opts.workDir).catch(() => [] as string[])) {
      await fs.rm(path.join(this.opts.workDir, name), { recursive: true, force: true });
    }
  }

  get state(): RetuneState {
    return this.current;
  }

  private set(patch: Partial<RetuneState>): void {
    const previous = this.current.state;
    this.current = { ...this.current, ...patch, ts: Date.now() };
    // Progress within a phase goes out at most once a second: it is a retained QoS 1 message.
    if (this.current.state === previous && this.current.ts - this.lastEmitted < PROGRESS_INTERVAL_MS) return;
    this.lastEmitted = this.current.ts;
    this.opts.onState(this.current);
  }

  /** Starts a job unless one is running; resolves when it has ended (check `state`). */
  start(req: RetuneRequest): Result<{ jobId: string; done: Promise<RetuneState> }> {
    if (this.stopping) return err('the agent is stopping');
    if (this.running) return err(`a re-tune is already running (job ${this.current.job_id}, ${this.current.state})`);
    this.running = true;
    const jobId = new Date().toISOString().replace(/[:.]/g, '-');
    this.current = { state: 'collecting', progress: 0, job_id: jobId, trigger: req.trigger, ...(req.camera ? { camera: req.camera } : {}), ts: Date.now() };
    this.opts.onState(this.current);
    const jobDir = path.join(this.opts.workDir, jobId);
    const done = this.run(jobDir, req)
      .catch((e: unknown) => this.finish('failed', { message: e instanceof Error ? e.message : String(e) }))
      .finally(() => fs.rm(jobDir, { recursive: true, force: true }).catch((e: Error) => this.opts.log.warn(`could not remove ${jobDir}: ${e.message}`)))
      .finally(() => {
        this.running = false;
        this.job = null;
      })
      .then(() => this.current);
    this.job = done;
    return ok({ jobId, done });
  }

  private finish(state: 'done' | 'rejected' | 'failed', patch: Partial<RetuneState>): void {
    this.set({ ...patch, state, phase: undefined, progress: 1 });
  }

  private async run(jobDir: string, req: RetuneRequest): Promise<void> {
    const normals = (await this.opts.reservoir.list(req.camera)).slice(-this.opts.maxNormals);
    if (normals.length < this.opts.minNormals) {
      return this.finish('failed', {
        message: `not enough normal frames${req.camera ? ` from camera ${req.camera}` : ''}: ${normals.length} collected, ${this.opts.minNormals} needed (retune.min_normals)`,
      });
    }
    const dir = path.join(jobDir, 'normals');
    const copied = await copyNormals(normals, dir);
    if (copied < this.opts.minNormals) {
      return this.finish('failed', {
        message: `only ${copied} normal frames could be read from the reservoir, ${this.opts.minNormals} needed (retune.min_normals)`,
      });
    }
    // Stopped while the frames were copied: no tuner may start after abort() was called.
    if (this.stopping) return this.finish('failed', { message: 'the agent is stopping' });
    this.set({ state: 'tuning', progress: 0.05, message: `${copied} normal frames` });
    const result = await this.runTune(dir, req.steps ?? this.opts.steps);
    if (!result.ok) return this.finish('failed', { message: result.error });
    const r = result.value;
    if (r.status === 'accepted') {
      // The id the tuner reported, not whatever `current` on disk says.
      const activated = await this.opts.store.activate(r.id);
      if (!activated.ok)
        return this.finish('failed', {
          prompt_set: r.id,
          metrics: r.metrics,
          message: `the accepted prompt set ${r.id} could not be activated: ${activated.error}`,
        });
      this.finish('done', { prompt_set: r.id, metrics: r.metrics, message: `prompt set ${r.id} accepted` });
    } else this.finish('rejected', { prompt_set: r.id, metrics: r.metrics, message: r.reason ?? 'the gate kept the current prompt set' });
  }

  /** Why the tuner died of `signal`: the agent stopping it, or most likely the kernel's OOM killer. */
  private killedBy(signal: NodeJS.Signals): string {
    if (this.stopping) return `the tuner was stopped (${signal}): the agent is stopping`;
    return `the tuner was killed by ${signal}${signal === 'SIGKILL' ? ' (out of memory?)' : ''}`;
  }

  private runTune(normalsDir: string, steps: number): Promise<Result<Extract<TuneProgressLine, { type: 'result' }>>> {
    const args = [
      CLI,
      'tune',
      '--bundle',
      this.bundleDir,
      '--normals',
      normalsDir,
      '--out',
      this.opts.store.dir,
      '--steps',
      String(steps),
      '--progress',
      'json',
    ];
    if (this.opts.providers) args.push('--providers', this.opts.providers.join(','));
    args.push('--scorers', this.opts.scorers.join(','));
    args.push('--no-activate', '--parent-pipe', String(PARENT_PIPE_FD));
    // fd 3: the pipe the tuner watches; nothing is ever written to it, its end-of-file is the agent's death.
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    this.child = child;
    try {
      if (child.pid) os.setPriority(child.pid, 10);
    } catch {
      this.opts.log.warn('could not lower the re-tune priority');
    }
    let result: Extract<TuneProgressLine, { type: 'result' }> | null = null;
    const stderr: string[] = [];
    readline.createInterface({ input: child.stderr! }).on('line', (l) => {
      stderr.push(l);
      if (stderr.length > 20) stderr.shift();
    });
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      const parsed = parseTuneProgressLine(line);
      if (!parsed.ok) {
        this.opts.log.warn('ignoring a line of the tuner that is not part of its progress protocol', { problem: parsed.error });
        return;
      }
      const msg = parsed.value;
      if (msg.type === 'result') result = msg;
      else if (msg.type === 'progress') {
        const [a, b] = PHASE_SPAN[msg.phase] ?? [0, 1];
        const state = msg.phase === 'calibration' ? 'validating' : 'tuning';
        this.set({ state, phase: msg.phase, progress: a + ((b - a) * msg.done) / Math.max(1, msg.total) });
      }
    });
    return new Promise((resolve) => {
      child.on('error', (e) => resolve(err(`could not start the tuner: ${e.message}`)));
      child.on('close', (code, signal) => {
        this.child = null;
        const output = stderr.slice(-3).join(' | ') || 'no output';
        if (result) resolve(ok(result));
        else if (signal) resolve(err(`${this.killedBy(signal)}: ${output}`));
        else resolve(err(`tuner exited with code ${code}: ${output}`));
      });
    });
  }
}

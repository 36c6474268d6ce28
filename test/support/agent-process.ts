// `linewatch run` as a child process, as a user starts it, for tests that need whole agents: its
// stderr log and everything it writes kept (a secret must appear in neither), its exit code
// awaited, killed when the test file ends; and the bundle of the tiny fixture CLIP those agents run.
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { after } from 'node:test';
import { REPO_ROOT } from './paths.ts';

const CLI = path.join(REPO_ROOT, 'bin/linewatch.js');

const running = new Set<ChildProcess>();
after(() => {
  for (const c of running) c.kill('SIGKILL');
});

export interface AgentProcess {
  child: ChildProcess;
  /** stderr lines so far (the structured log). */
  log: string[];
  /** stdout and stderr together, as written so far. */
  output(): string;
  exited: Promise<number | null>;
}

export function startAgentProcess(config: string, env: Record<string, string> = {}): AgentProcess {
  const child = spawn(process.execPath, [CLI, 'run', '--config', config], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  const log: string[] = [];
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => {
    output += d.toString();
    log.push(...d.toString().split('\n').filter(Boolean));
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => (running.delete(child), resolve(code))));
  return { child, log, output: () => output, exited };
}

/** The bundled demo frames, as a `dir:` camera source (no ffmpeg needed). */
export const DEMO_FRAMES = `dir:${path.join(REPO_ROOT, 'demo/frames')}`;

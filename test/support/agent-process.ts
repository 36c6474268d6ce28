// `linewatch run` as a child process for the integration tests: the real CLI with a real config
// file, its stderr log kept for assertions, killed after the file if a test left it running.
// (test/agent.test.ts has its own copy of startAgent from before this helper existed.)
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { after } from 'node:test';
import { buildBundle } from '../../models/bundle/build.ts';

const REPO = path.resolve(import.meta.dirname, '../..');
const CLI = path.join(REPO, 'bin/linewatch.js');
/** Five DeepPCB frames: a `dir:` camera needs no ffmpeg. */
export const DEMO_FRAMES = path.join(REPO, 'demo/frames');

const running = new Set<ChildProcess>();
after(() => {
  for (const a of running) a.kill('SIGKILL');
});

export interface RunningAgent {
  child: ChildProcess;
  log: string[];
  exited: Promise<number | null>;
}

export function startAgent(config: string, env: Record<string, string> = {}): RunningAgent {
  const child = spawn(process.execPath, [CLI, 'run', '--config', config], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  running.add(child);
  const log: string[] = [];
  child.stderr!.on('data', (d: Buffer) => log.push(...d.toString().split('\n').filter(Boolean)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => (running.delete(child), resolve(code))));
  return { child, log, exited };
}

/** A bundle built from the tiny fixture CLIP into `dir/bundle`. */
export async function tinyBundle(dir: string): Promise<string> {
  const out = path.join(dir, 'bundle');
  const built = await buildBundle({ weights: path.join(REPO, 'test/fixtures/clip-tiny'), out });
  if (!built.ok) throw new Error(built.error);
  return out;
}

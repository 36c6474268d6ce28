// `linewatch run` as a child process for end-to-end tests: everything it writes (stdout and
// stderr together) is kept for the test to search, and a child still running when the file
// ends is killed.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { after } from 'node:test';

const CLI = path.resolve(import.meta.dirname, '../../bin/linewatch.js');

const children = new Set<ChildProcess>();
after(() => {
  for (const c of children) c.kill('SIGKILL');
});

export function spawnAgent(config: string, env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [CLI, 'run', '--config', config], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => (children.delete(child), resolve(code))));
  return { child, exited, output: () => output };
}

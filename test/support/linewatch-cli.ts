// The `linewatch` command run as a child process, as a user or the agent's re-tune runs it.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from './paths.ts';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** `node bin/linewatch.js ...args` from the repository root; resolves with the exit code and output. */
export function linewatch(...args: string[]): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [path.join(REPO_ROOT, 'bin/linewatch.js'), ...args], { cwd: REPO_ROOT, maxBuffer: 1 << 26 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return reject(error);
      resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
    });
  });
}

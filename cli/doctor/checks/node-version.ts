// Node.js >= 20: the version package.json `engines` asks for (node:test, fs.statfs, import.meta.dirname).
import { type Check, fail, ok } from '../check.ts';

const MIN_MAJOR = 20;

export const nodeVersionCheck: Check = {
  name: 'node',
  timeoutMs: 1000,
  async run() {
    const version = process.versions.node;
    return Number(version.split('.')[0]) >= MIN_MAJOR
      ? ok(`Node.js ${version}`)
      : fail(
          `Node.js ${version} is older than ${MIN_MAJOR}`,
          `install Node.js ${MIN_MAJOR} or newer (https://nodejs.org or your distribution's nodejs package)`,
        );
  },
};

// `linewatch validate-config --config FILE`: loads the configuration exactly as `run` would
// (file + LINEWATCH_* environment) and reports every problem; exit 2 when there is one.
import { parseArgs } from 'node:util';
import { loadConfig } from '../agent/config.ts';
import { describeSource } from '../agent/camera/source-spec.ts';

const USAGE = 'usage: linewatch validate-config --config FILE\n';

export async function run(argv: string[]): Promise<number> {
  let file: string | undefined;
  try {
    file = parseArgs({ args: argv, options: { config: { type: 'string' } }, strict: true }).values.config;
  } catch (e) {
    process.stderr.write(`linewatch validate-config: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (!file) {
    process.stderr.write(`linewatch validate-config: --config FILE is required\n${USAGE}`);
    return 2;
  }
  const config = loadConfig(file);
  if (!config.ok) {
    const lines = config.error.split('\n').map((l) => `  ${l}\n`);
    process.stderr.write(`linewatch: invalid configuration ${file}:\n${lines.join('')}`);
    return 2;
  }
  const cameras = Object.entries(config.value.cameras);
  process.stdout.write(`${file}: ok, device ${config.value.device_id}, ${cameras.length} camera(s)\n`);
  for (const [name, cam] of cameras) {
    process.stdout.write(`  ${name}: ${describeSource(cam.source)} at ${cam.fps} fps${cam.enabled ? '' : ' (disabled)'}\n`);
  }
  return 0;
}

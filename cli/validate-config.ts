// `linewatch validate-config --config FILE`: loads the configuration exactly as `run` would
// (file + LINEWATCH_* environment) and reports every problem; exit 2 when there is one.
import { describeSource } from '../agent/camera/source-spec.ts';
import { parseOptions, required, runCommand } from './args.ts';
import { loadConfigFile } from './config-file.ts';

const USAGE = `usage: linewatch validate-config --config FILE

Checks FILE (with the LINEWATCH_* environment applied) without starting anything. Exit 0 with a
summary, or 2 with every unknown key and bad value, each with its key path.
`;

export async function run(argv: string[]): Promise<number> {
  return runCommand('validate-config', USAGE, async () => {
    const values = parseOptions(argv, { config: { type: 'string' }, help: { type: 'boolean', short: 'h' } });
    if (values.help) {
      process.stdout.write(USAGE);
      return 0;
    }
    const file = required('config', values.config);
    const config = loadConfigFile(file);
    const cameras = Object.entries(config.cameras);
    process.stdout.write(`${file}: ok, device ${config.device_id}, ${cameras.length} camera(s)\n`);
    for (const [name, cam] of cameras) {
      process.stdout.write(`  ${name}: ${describeSource(cam.source)} at ${cam.fps} fps${cam.enabled ? '' : ' (disabled)'}\n`);
    }
    return 0;
  });
}

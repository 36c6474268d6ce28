// `linewatch run --config FILE`: the agent, until SIGTERM or SIGINT.
import { parseArgs } from 'node:util';
import { Agent } from '../agent/agent.ts';
import { loadConfig } from '../agent/config.ts';
import { createLogger } from '../util/log.ts';

const USAGE = 'usage: linewatch run --config FILE\n';
const log = createLogger('run');

export async function run(argv: string[]): Promise<number> {
  let file: string | undefined;
  try {
    file = parseArgs({ args: argv, options: { config: { type: 'string' } }, strict: true }).values.config;
  } catch (e) {
    process.stderr.write(`linewatch run: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (!file) {
    process.stderr.write(`linewatch run: --config FILE is required\n${USAGE}`);
    return 2;
  }
  const config = loadConfig(file);
  if (!config.ok) {
    process.stderr.write(`linewatch: invalid configuration ${file}:\n${config.error.split('\n').map((l) => `  ${l}\n`).join('')}`);
    return 2;
  }
  const agent = new Agent(config.value);
  const started = await agent.start();
  if (!started.ok) {
    log.error(`cannot start: ${started.error}`);
    await agent.stop();
    return 1;
  }
  log.info(`agent ${config.value.device_id} running (MQTT ${agent.mqttUrl})`);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  log.info(`${signal}: stopping`);
  await agent.stop();
  log.info('stopped');
  return 0;
}

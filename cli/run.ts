// `linewatch run --config FILE`: the agent, until SIGTERM or SIGINT.
import { Agent } from '../agent/agent.ts';
import { createLogger } from '../util/log.ts';
import { redact } from '../util/redact.ts';
import { UserError } from '../util/result.ts';
import { parseOptions, required, runCommand } from './args.ts';
import { loadConfigFile } from './config-file.ts';

const USAGE = `usage: linewatch run --config FILE

Runs the agent of FILE (see config/example-line.yaml; LINEWATCH_* variables override its keys)
until SIGTERM or SIGINT, then stops gracefully: cameras ended, open events closed, the event
outbox flushed, \`stopped\` published. Exit 2 on an invalid configuration, 1 when start-up fails
or another agent with the same device_id holds the broker connection.
`;
const log = createLogger('run');

export async function run(argv: string[]): Promise<number> {
  return runCommand('run', USAGE, async () => {
    const values = parseOptions(argv, { config: { type: 'string' }, help: { type: 'boolean', short: 'h' } });
    if (values.help) {
      process.stdout.write(USAGE);
      return 0;
    }
    const config = loadConfigFile(required('config', values.config));
    const agent = new Agent(config);
    // Listened for before start: MQTT and the page come up before the model (minutes for a TensorRT
    // engine), and a stop asked for meanwhile must still be a clean one (`stopped`, outbox kept).
    const signalled = new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGTERM', () => resolve('SIGTERM'));
      process.once('SIGINT', () => resolve('SIGINT'));
    });
    const started = await agent.start();
    // One line, no stack (the agent has already stopped whatever it had started); it may quote mqtt.url.
    if (!started.ok) {
      throw new UserError(`cannot start: ${redact(started.error)} (linewatch doctor --config ${values.config} checks every prerequisite and names the fix)`);
    }
    log.info(`agent ${config.device_id} running (MQTT ${agent.mqttUrl})`);
    const ended = await Promise.race([signalled.then((signal) => ({ signal })), agent.failure.then((failure) => ({ failure }))]);
    if ('failure' in ended) {
      log.error(`stopping: ${ended.failure}`);
      await agent.stop();
      return 1;
    }
    log.info(`${ended.signal}: stopping`);
    await agent.stop();
    log.info('stopped');
    return 0;
  });
}

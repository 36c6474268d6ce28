// `linewatch retune --config FILE [--camera NAME] [--wait]`: asks the agent of that configuration
// to re-tune, over MQTT (the same command a plant system sends), and optionally follows the job.
import { randomUUID } from 'node:crypto';
import mqtt from 'mqtt';
import { signCommand } from '../agent/commands/signature.ts';
import type { CommandReply } from '../agent/commands/types.ts';
import type { RetuneStatePayload } from '../agent/contract/payloads.ts';
import { createTopics, type Topics } from '../agent/contract/topics.ts';
import { readTlsMaterial } from '../agent/mqtt/tls.ts';
import { UserError, unwrap } from '../util/result.ts';
import { parseOptions, realNumber, required, runCommand } from './args.ts';
import { loadConfigFile } from './config-file.ts';

const USAGE = `usage: linewatch retune --config FILE [--camera NAME] [--wait] [--timeout SECONDS]

Sends the 'retune' command to the agent running with FILE (broker, topic prefix, device id and
command secret are read from it). With --wait, follows <prefix>/<device>/retune/state until the
job ends: exit 0 when the new prompt set was accepted, 3 when the gate rejected it, 1 on failure.
`;

export async function run(argv: string[]): Promise<number> {
  return runCommand('retune', USAGE, async () => {
    const values = parseOptions(argv, {
      config: { type: 'string' },
      camera: { type: 'string' },
      wait: { type: 'boolean' },
      timeout: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help) {
      process.stdout.write(USAGE);
      return 0;
    }
    const c = loadConfigFile(required('config', values.config));
    const timeoutS = realNumber('timeout', values.timeout, (x) => x > 0, 'a positive number of seconds') ?? 600;
    const topics = unwrap(createTopics(c.mqtt.topic_prefix, c.device_id));
    const url = c.mqtt.url === 'embedded' ? `mqtt://127.0.0.1:${c.mqtt.port}` : c.mqtt.url;
    const tls = unwrap(readTlsMaterial({ ca: c.mqtt.ca, cert: c.mqtt.cert, key: c.mqtt.key }, url));
    const client = mqtt.connect(url, {
      username: c.mqtt.username ?? undefined,
      password: c.mqtt.password ?? undefined,
      ...tls,
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
    });
    try {
      return await exchange(client, topics, c.mqtt.command_secret, values.camera, values.wait ?? false, timeoutS * 1000);
    } catch (e) {
      throw new UserError((e as Error).message);
    } finally {
      client.end(true);
    }
  });
}

async function exchange(
  client: mqtt.MqttClient,
  topics: Topics,
  secret: string | null,
  camera: string | undefined,
  wait: boolean,
  timeoutMs: number,
): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', (e) => reject(new Error(`cannot reach the broker: ${e.message}`)));
  });
  const requestId = randomUUID();
  let jobId: string | null = null;
  const outcome = new Promise<number>((resolve) => {
    const timer = setTimeout(() => {
      process.stderr.write(`linewatch retune: no ${jobId ? 'end of the job' : 'reply from the agent'} within ${timeoutMs / 1000} s\n`);
      resolve(1);
    }, timeoutMs);
    const done = (code: number) => {
      clearTimeout(timer);
      resolve(code);
    };
    client.on('message', (topic, payload) => {
      let msg: unknown;
      try {
        msg = JSON.parse(payload.toString());
      } catch {
        return;
      }
      if (topic === topics.commandReply('retune')) {
        const reply = msg as CommandReply;
        if (reply.request_id !== requestId) return;
        if (!reply.ok) {
          process.stderr.write(`linewatch retune: the agent refused: ${reply.error}\n`);
          return done(1);
        }
        jobId = (reply.result as { job_id?: string }).job_id ?? null;
        process.stdout.write(`re-tune job ${jobId} started\n`);
        if (!wait) done(0);
      } else if (topic === topics.retuneState && jobId) {
        const s = msg as RetuneStatePayload;
        if (s.job_id !== jobId) return;
        process.stdout.write(`${s.state} ${Math.round(s.progress * 100)} %${s.message ? `: ${s.message}` : ''}\n`);
        if (s.state === 'done') done(0);
        else if (s.state === 'rejected') done(3);
        else if (s.state === 'failed') done(1);
      }
    });
  });
  await client.subscribeAsync([topics.commandReply('retune'), topics.retuneState], { qos: 1 });
  const body: Record<string, unknown> = { request_id: requestId, ...(camera ? { camera } : {}) };
  await client.publishAsync(topics.command('retune'), JSON.stringify(secret ? signCommand(secret, 'retune', body) : body), { qos: 1 });
  return outcome;
}

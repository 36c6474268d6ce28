// Two agents configured with the same device_id share one MQTT client id (`linewatch-<device_id>`):
// the broker closes the older session whenever the other connects, and both reconnect for ever,
// each knocking the other off. So before an agent takes its client id (at start-up, and after it
// lost an established connection) it looks for a live holder with a client of its own: the
// retained `P/status` says `online` and a `status` command on `P/cmd/status` gets an answer.
// `online` alone proves nothing: a session the broker has not timed out yet (a power cut, a pulled
// cable) keeps it until its keep-alive expires, and that may be this very device before a restart.
// Nobody answering within the wait means the claim is stale and the client id is free to take; a
// broker that cannot be reached says nothing, and the connection's own reconnecting deals with it.
import { randomBytes } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import { signCommand } from '../commands/signature.ts';
import type { Topics } from '../contract/topics.ts';
import type { TlsMaterial } from './tls.ts';

export interface ClaimCheckOptions {
  url: string;
  username: string | null;
  password: string | null;
  tls: TlsMaterial;
  deviceId: string;
  topics: Topics;
  /** `mqtt.command_secret`: the status command is signed with it, so a holder answers it rather than logging a refusal. */
  commandSecret: string | null;
  /** How long a holder has to answer the status command. */
  answerTimeoutMs?: number;
  connectTimeoutMs?: number;
}

export type ClaimHolder =
  /** The retained status is not `online`: nobody holds the client id. */
  | { kind: 'none' }
  /** `online` retained, but nobody answered: a session the broker has not timed out yet. */
  | { kind: 'stale'; waitedMs: number }
  /** The broker could not be asked. */
  | { kind: 'unknown'; reason: string }
  /** Another agent answered; `detail` says what it runs, to tell the operator which one it is. */
  | { kind: 'live'; detail: string };

const DEFAULT_ANSWER_TIMEOUT_MS = 3000;

/** The operator's message when another agent holds this device id. */
export function liveHolderMessage(deviceId: string, detail: string): string {
  return `another agent with device_id ${deviceId} is connected to the broker (it answered a status command${detail ? `: ${detail}` : ''}): give this device its own device_id, or stop the other agent`;
}

/** What a status reply tells about the agent that sent it: its cameras and prompt set, or why it refused. */
function describeReply(reply: Record<string, unknown>): string {
  if (reply.ok === false) return `it refused the command: ${String(reply.error)}`;
  const result = reply.result as { cameras?: Record<string, unknown>; prompt_set?: unknown } | undefined;
  const parts: string[] = [];
  if (result?.cameras) parts.push(`cameras: ${Object.keys(result.cameras).join(', ')}`);
  if (typeof result?.prompt_set === 'string') parts.push(`prompt set ${result.prompt_set}`);
  return parts.join('; ');
}

function connected(client: MqttClient, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(`no CONNACK within ${timeoutMs} ms`), timeoutMs);
    const done = (problem: string | null) => {
      clearTimeout(timer);
      resolve(problem);
    };
    client.once('connect', () => done(null));
    client.once('error', (e) => done(e.message));
    client.once('close', () => done('the broker closed the connection'));
  });
}

export async function findClaimHolder(opts: ClaimCheckOptions): Promise<ClaimHolder> {
  const connectTimeoutMs = opts.connectTimeoutMs ?? 10_000;
  const answerTimeoutMs = opts.answerTimeoutMs ?? DEFAULT_ANSWER_TIMEOUT_MS;
  const nonce = randomBytes(6).toString('hex');
  // Its own client id, so looking does not take the device's over; 3.1.1 is what every broker speaks.
  const client = mqtt.connect(opts.url, {
    clientId: `linewatch-${opts.deviceId}-check-${nonce}`,
    protocolVersion: 4,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: connectTimeoutMs,
    username: opts.username ?? undefined,
    password: opts.password ?? undefined,
    ...opts.tls,
    rejectUnauthorized: true,
  });
  try {
    const problem = await connected(client, connectTimeoutMs);
    if (problem) return { kind: 'unknown', reason: problem };

    const requestId = `claim-check-${nonce}`;
    const replyTopic = opts.topics.commandReply('status');
    let status: string | null = null;
    let answer: Record<string, unknown> | null = null;
    let answered = () => {};
    client.on('message', (topic, payload) => {
      if (topic === opts.topics.status) status = payload.toString();
      if (topic !== replyTopic) return;
      try {
        const reply = JSON.parse(payload.toString()) as Record<string, unknown>;
        if (reply.request_id === requestId) {
          answer = reply;
          answered();
        }
      } catch {
        // someone else's malformed reply: not ours
      }
    });
    await client.subscribeAsync([opts.topics.status, replyTopic], { qos: 1 });
    const body = { request_id: requestId };
    const command = opts.commandSecret ? signCommand(opts.commandSecret, 'status', body) : body;
    // The retained status comes with the subscription, so it is in by this PUBACK.
    await client.publishAsync(opts.topics.command('status'), JSON.stringify(command), { qos: 1 });
    if (status !== 'online' && answer === null) return { kind: 'none' };

    const started = Date.now();
    if (answer === null) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, answerTimeoutMs);
        answered = () => (clearTimeout(timer), resolve());
      });
    }
    const reply = answer as Record<string, unknown> | null;
    return reply ? { kind: 'live', detail: describeReply(reply) } : { kind: 'stale', waitedMs: Date.now() - started };
  } catch (e) {
    return { kind: 'unknown', reason: (e as Error).message };
  } finally {
    client.end(true);
  }
}

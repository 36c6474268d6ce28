import type { IPublishPacket } from 'mqtt';
import { createLogger } from '../../util/log.ts';
import { redact } from '../../util/redact.ts';
import type { CommandDispatcher } from '../commands/types.ts';
import type { Topics } from '../contract/topics.ts';
import type { MqttConnection } from './connection.ts';

const log = createLogger('mqtt-commands');

/** Reply topics must be plain topics: a wildcard in a response topic would make the publish fail. */
const usableResponseTopic = (t: unknown): t is string => typeof t === 'string' && t.length > 0 && !/[+#]/.test(t);

/**
 * Feeds `P/cmd/<name>` into the dispatcher and publishes its reply (QoS 1): on the MQTT 5 response
 * topic with the request's correlation data when the request has one, else on
 * `P/cmd/<name>/reply`, where the reply's `request_id` lets a 3.1.1 client match it.
 */
export function attachCommandChannel(connection: MqttConnection, topics: Topics, dispatcher: CommandDispatcher): void {
  connection.subscribe(topics.commandFilter);
  connection.onMessage((topic, payload, packet) => {
    const name = topics.commandName(topic);
    if (name === null) return;
    if (packet.retain) {
      // A retained command would run again on every restart of the agent.
      log.warn('ignoring a retained command; publish commands without the retain flag', { topic });
      return;
    }
    // Nothing a sender does may end the process: whatever still throws here is logged.
    answer(name, payload, packet).catch((e: unknown) => log.error('could not answer a command', { command: name, error: (e as Error)?.stack ?? String(e) }));
  });

  async function answer(name: string, payload: Buffer, packet: IPublishPacket) {
    const reply = Buffer.from(redact(JSON.stringify(await dispatcher.dispatch({ name, payload }))));
    const responseTopic = packet.properties?.responseTopic;
    const correlationData = packet.properties?.correlationData;
    try {
      if (connection.protocolVersion === 5 && usableResponseTopic(responseTopic)) {
        await connection.publish(responseTopic, reply, {
          qos: 1,
          properties: { contentType: 'application/json', ...(correlationData ? { correlationData } : {}) },
        });
      } else {
        await connection.publish(topics.commandReply(name), reply, { qos: 1 });
      }
    } catch (e) {
      log.warn('could not publish a command reply', { command: name, error: (e as Error).message });
    }
  }
}

// docs/asyncapi.json: the machine-readable MQTT contract (AsyncAPI 3.0.0), built from the same
// topic table (agent/contract/topics.ts), channel table (agent/contract/channels.ts) and payload schemas
// (agent/contract/payloads.ts) the agent publishes with. Operations are from the agent's point of
// view: `send` = the agent publishes, `receive` = the agent subscribes.
import { readFileSync } from 'node:fs';
import { COMMAND_NAMES } from '../agent/commands/types.ts';
import { CHANNELS, type ChannelSpec, DEFAULT_EXPIRY_SECONDS } from '../agent/contract/channels.ts';
import { TOPIC_TEMPLATES, type TopicName } from '../agent/contract/topics.ts';

const BINDING_VERSION = '0.2.0';
const ROOT = '{prefix}/{device_id}';

const PARAMETERS = {
  prefix: { description: '`mqtt.topic_prefix` (default `linewatch`); may span several levels, none empty or a wildcard.', default: 'linewatch' },
  device_id: { description: '`device_id` of the configuration: one topic level.' },
  camera: { description: 'A camera name (a key of `cameras`): one topic level.' },
  // No enum: an unknown name gets an error reply on its own reply topic, which is part of the contract too.
  command: { description: `The command name: ${COMMAND_NAMES.join(', ')}.` },
} as const;
type ParameterName = keyof typeof PARAMETERS;

/** The MQTT 5 properties a command request may carry (they are properties, not payload). */
const MQTT5_REQUEST_PROPERTIES = {
  type: 'object',
  properties: {
    responseTopic: { type: 'string', description: 'MQTT 5 Response Topic: where the reply goes' },
    correlationData: { type: 'string', description: 'MQTT 5 Correlation Data: copied unchanged into the reply' },
  },
};

const ref = (pointer: string) => ({ $ref: pointer });
const capitalised = (s: string) => s[0].toUpperCase() + s.slice(1);

function addressOf(name: TopicName): { address: string; parameters: Record<string, { $ref: string }> } {
  const address = `${ROOT}/${TOPIC_TEMPLATES[name]}`;
  const names = [...address.matchAll(/\{(\w+)\}/g)].map((m) => m[1] as ParameterName);
  return { address, parameters: Object.fromEntries(names.map((p) => [p, ref(`#/components/parameters/${p}`)])) };
}

/** A message's component name: its own key, prefixed by the channel when the channel has several (status). */
const messageId = (channel: TopicName, message: string) => (Object.keys(CHANNELS[channel].messages).length > 1 ? `${channel}${capitalised(message)}` : message);

/** The message components of a channel and their payload schemas (named alike). */
function messagesOf(name: TopicName, spec: ChannelSpec) {
  const messages: Record<string, unknown> = {};
  const schemas: Record<string, unknown> = {};
  for (const [key, { payload, summary }] of Object.entries(spec.messages)) {
    const id = messageId(name, key);
    schemas[id] = payload;
    messages[id] = {
      name: id,
      contentType: spec.contentType,
      ...(summary ? { summary } : {}),
      payload: ref(`#/components/schemas/${id}`),
      ...(name === 'command' ? { headers: MQTT5_REQUEST_PROPERTIES, correlationId: ref('#/components/correlationIds/mqtt5') } : {}),
      ...(name === 'commandReply' ? { correlationId: ref('#/components/correlationIds/requestId') } : {}),
      ...(name === 'mask'
        ? { headers: { type: 'object', properties: { frame_id: { type: 'string', description: 'MQTT 5 user property: the frame number' } } } }
        : {}),
      bindings: {
        mqtt: {
          contentType: spec.contentType,
          ...(spec.contentType === 'image/png' ? {} : { payloadFormatIndicator: 1 }),
          ...(name === 'command' ? MQTT5_REQUEST_PROPERTIES.properties : {}),
          bindingVersion: BINDING_VERSION,
        },
      },
    };
  }
  return { messages, schemas };
}

function operationOf(name: TopicName, spec: ChannelSpec) {
  return {
    action: spec.action,
    channel: ref(`#/channels/${name}`),
    summary: spec.summary,
    messages: Object.keys(spec.messages).map((key) => ref(`#/channels/${name}/messages/${messageId(name, key)}`)),
    bindings: {
      mqtt: { qos: spec.qos, retain: spec.retain, ...(spec.expires ? { messageExpiryInterval: DEFAULT_EXPIRY_SECONDS } : {}), bindingVersion: BINDING_VERSION },
    },
    ...(name === 'command'
      ? {
          reply: {
            address: {
              location: '$message.header#/responseTopic',
              description:
                "Under MQTT 5 the reply (QoS 1) goes to the request's Response Topic with its Correlation Data; a request without a response topic, and every MQTT 3.1.1 request, is answered on `P/cmd/<name>/reply` (operation sendCommandReply) with the request's `request_id`.",
            },
            channel: ref('#/channels/commandResponse'),
            messages: [ref('#/channels/commandResponse/messages/commandResponse')],
          },
        }
      : {}),
  };
}

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export function asyncApiDocument(): object {
  const names = Object.keys(TOPIC_TEMPLATES) as TopicName[];
  const channels: Record<string, unknown> = {};
  const operations: Record<string, unknown> = {};
  const messages: Record<string, unknown> = {};
  const schemas: Record<string, unknown> = {};
  for (const name of names) {
    const spec = CHANNELS[name];
    const built = messagesOf(name, spec);
    Object.assign(messages, built.messages);
    Object.assign(schemas, built.schemas);
    channels[name] = {
      ...addressOf(name),
      description: spec.summary,
      messages: Object.fromEntries(Object.keys(built.messages).map((id) => [id, ref(`#/components/messages/${id}`)])),
    };
    operations[`${spec.action}${capitalised(name)}`] = operationOf(name, spec);
  }
  // The MQTT 5 response topic is whatever the requester chose: a channel without an address.
  channels.commandResponse = {
    address: null,
    description: "The MQTT 5 Response Topic of a command request; the reply carries the request's Correlation Data.",
    messages: { commandResponse: ref('#/components/messages/commandResponse') },
  };
  messages.commandResponse = {
    name: 'commandResponse',
    contentType: 'application/json',
    payload: ref('#/components/schemas/commandReply'),
    correlationId: ref('#/components/correlationIds/mqtt5'),
    bindings: { mqtt: { contentType: 'application/json', payloadFormatIndicator: 1, correlationData: { type: 'string' }, bindingVersion: BINDING_VERSION } },
  };

  return {
    asyncapi: '3.0.0',
    info: {
      title: 'linewatch MQTT contract',
      version: VERSION,
      description:
        "Every topic a linewatch agent publishes or subscribes to, below P = `<mqtt.topic_prefix>/<device_id>`. Generated from the agent's own topic, channel and payload declarations by `npx tsx scripts/generate.ts`; do not edit by hand.",
    },
    defaultContentType: 'application/json',
    servers: {
      broker: {
        host: '{host}:{port}',
        protocol: 'mqtt',
        protocolVersion: '5',
        description: '`mqtt.url` (mqtt:// or mqtts://); the agent falls back to MQTT 3.1.1 when the broker refuses 5.',
        variables: { host: { default: '127.0.0.1' }, port: { default: '1883' } },
        bindings: {
          mqtt: {
            clientId: 'linewatch-{device_id}',
            cleanSession: true,
            keepAlive: 30,
            lastWill: { topic: `${ROOT}/${TOPIC_TEMPLATES.status}`, qos: 1, message: 'offline', retain: true },
            bindingVersion: BINDING_VERSION,
          },
        },
      },
    },
    channels,
    operations,
    components: {
      schemas,
      messages,
      parameters: PARAMETERS,
      correlationIds: {
        mqtt5: { location: '$message.header#/correlationData', description: 'MQTT 5 Correlation Data of the request, copied into the reply' },
        requestId: { location: '$message.payload#/request_id', description: 'the request_id of the request, echoed in the reply (MQTT 3.1.1)' },
      },
    },
  };
}

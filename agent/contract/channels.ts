// The MQTT contract as data: for every topic of topics.ts, what goes on it (payload schema, content
// type), how (QoS, retain, message expiry) and who publishes it. The publisher takes its QoS and
// retain flags from here and docs/asyncapi.json is generated from it, so the published document
// describes what the code does rather than what someone remembered to write down.
import type { TSchema } from 'typebox';
import { COMMAND_SCHEMAS } from '../commands/schemas.ts';
import {
  AvailabilityPayload,
  CameraStatusPayload,
  CommandReplyPayload,
  EventPayload,
  MaskPayload,
  ResultPayload,
  RetuneStatePayload,
  StatsPayload,
} from './payloads.ts';
import type { TopicName } from './topics.ts';

/** MQTT 5 message expiry of results and masks: a frame older than this is not worth delivering. */
export const DEFAULT_EXPIRY_SECONDS = 10;

export type ContentType = 'application/json' | 'text/plain' | 'image/png';

export interface ChannelSpec {
  summary: string;
  /** `send`: the agent publishes; `receive`: clients publish and the agent subscribes. */
  action: 'send' | 'receive';
  contentType: ContentType;
  /** One message per entry; the key names it in the AsyncAPI document. */
  messages: Record<string, { payload: TSchema; summary?: string }>;
  qos: 0 | 1;
  retain: boolean;
  /** Published with MQTT 5 message expiry (`DEFAULT_EXPIRY_SECONDS` unless configured). */
  expires?: true;
}

const json = (name: string, payload: TSchema, rest: Omit<ChannelSpec, 'contentType' | 'messages'>): ChannelSpec => ({
  ...rest,
  contentType: 'application/json',
  messages: { [name]: { payload } },
});

export const CHANNELS: Record<TopicName, ChannelSpec> = {
  status: {
    summary: 'Availability of the agent. `offline` is the Will, sent by the broker when the link is lost without a DISCONNECT.',
    action: 'send',
    contentType: 'text/plain',
    messages: Object.fromEntries(
      AvailabilityPayload.anyOf.map((literal) => [literal.const, { payload: literal, summary: literal.const === 'offline' ? 'the Will' : undefined }]),
    ),
    qos: 1,
    retain: true,
  },
  cameraStatus: json('cameraStatus', CameraStatusPayload, { summary: 'State of one camera (never credentials).', action: 'send', qos: 1, retain: true }),
  result: json('result', ResultPayload, {
    summary: 'The verdict on a frame, at most `detector.result_rate_hz` per camera; a change of `anomalous` always goes out.',
    action: 'send',
    qos: 0,
    retain: false,
    expires: true,
  }),
  mask: {
    summary: 'The anomaly map as an 8-bit grey PNG; under MQTT 5 with content type image/png and the user property frame_id.',
    action: 'send',
    contentType: 'image/png',
    messages: { mask: { payload: MaskPayload } },
    qos: 0,
    retain: false,
    expires: true,
  },
  events: json('event', EventPayload, {
    summary: 'Anomaly events, through the disk-backed outbox: delivered after broker outages and restarts.',
    action: 'send',
    qos: 1,
    retain: false,
  }),
  stats: json('stats', StatsPayload, { summary: 'Periodic statistics.', action: 'send', qos: 0, retain: false }),
  retuneState: json('retuneState', RetuneStatePayload, { summary: 'Progress and outcome of the re-tuning job.', action: 'send', qos: 1, retain: true }),
  command: {
    summary:
      'A command, one message per name (the `{command}` level of the topic); never retained. Under MQTT 5 the reply goes to the response topic with the correlation data, else to `P/cmd/<name>/reply`. An empty payload is `{}`.',
    action: 'receive',
    contentType: 'application/json',
    // The same declarations the dispatcher validates with: the document cannot drift from the code.
    messages: Object.fromEntries(Object.entries(COMMAND_SCHEMAS).map(([name, payload]) => [name, { payload, summary: `the \`${name}\` command` }])),
    qos: 1,
    retain: false,
  },
  commandReply: json('commandReply', CommandReplyPayload, {
    summary: 'The reply for MQTT 3.1.1 clients (and MQTT 5 requests without a response topic); `request_id` matches it to the request.',
    action: 'send',
    qos: 1,
    retain: false,
  }),
};

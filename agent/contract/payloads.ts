// The payloads of the MQTT contract (DESIGN.md, "MQTT contract"), declared once as JSON Schema
// (TypeBox) with each TypeScript type derived from its schema under the same name: the publisher
// and its callers use the types, docs/asyncapi.json carries the schemas, and the contract test
// validates what the agent really publishes against them. Times are milliseconds since the Unix
// epoch; images and boxes are in camera pixel coordinates. What the agent publishes is closed
// (`additionalProperties: false`), so a field added in code but not here fails the contract test;
// only the command request, whose arguments the dispatcher checks, is open.
import Type, { type Static, type TProperties } from 'typebox';
import type { CommandReply } from '../commands/types.ts';
import { TunePhase } from './tune-progress.ts';

const closed = <P extends TProperties>(properties: P, description: string) => Type.Object(properties, { additionalProperties: false, description });
const epochMs = (description = 'milliseconds since the Unix epoch') => Type.Number({ minimum: 0, description });
const count = (description: string) => Type.Integer({ minimum: 0, description });
const unitScore = (description: string) => Type.Number({ minimum: 0, maximum: 1, description });

/** `P/status`, plain text, retained: `online` on connect, `stopped` on a graceful stop, `offline` is the Will. */
export const AvailabilityPayload = Type.Union([Type.Literal('online'), Type.Literal('stopped'), Type.Literal('offline')], {
  description: 'online on every connect, stopped after a graceful stop, offline as the Will (the link was lost)',
});
export type AvailabilityPayload = Static<typeof AvailabilityPayload>;

export const CameraState = Type.Union([Type.Literal('online'), Type.Literal('offline'), Type.Literal('disabled')]);
export type CameraState = Static<typeof CameraState>;

/** `P/<cam>/status`, retained. */
export const CameraStatusPayload = closed(
  {
    state: CameraState,
    reason: Type.Optional(Type.String({ description: 'why it is offline or disabled ("no frame for 10 s", "disabled by command"); never credentials' })),
    ts: epochMs(),
  },
  'the state of one camera',
);
export type CameraStatusPayload = Static<typeof CameraStatusPayload>;

/** `P/<cam>/result`, QoS 0, rate-limited. */
export const ResultPayload = closed(
  {
    ts: epochMs(),
    frame_id: count('frame number of the camera since the agent started'),
    score: unitScore('calibrated against the prompt set (clipped to 0..1); with several scorers, their combination (README, "Scorers")'),
    raw_score: Type.Number({
      description: "the score before calibration: the scorer's own raw score, or with several scorers the maximum of their combined map",
    }),
    scores: closed(
      {
        prompt: Type.Number({ description: 'raw score of the prompt scorer (the anomaly head)' }),
        memory: Type.Optional(
          Type.Number({ description: 'raw score of the patch-memory scorer; absent while the prompt set has no memory or it is not in detector.scorers' }),
        ),
      },
      'the raw score of every scorer that ran, before calibration',
    ),
    anomalous: Type.Boolean(),
    threshold: Type.Number({ description: 'the threshold on the calibrated score' }),
    prompt_set: Type.String({ description: 'id of the prompt set that scored the frame' }),
    latency_ms: closed({ pre: Type.Number({ minimum: 0 }), infer: Type.Number({ minimum: 0 }), post: Type.Number({ minimum: 0 }) }, 'time spent per stage, ms'),
  },
  'the verdict on one frame',
);
export type ResultPayload = Static<typeof ResultPayload>;

export const BoundingBox = closed(
  { x: Type.Number(), y: Type.Number(), w: Type.Number({ minimum: 0 }), h: Type.Number({ minimum: 0 }) },
  'camera pixel coordinates',
);
export type BoundingBox = Static<typeof BoundingBox>;

/** `P/<cam>/events`, QoS 1 through the outbox. */
export const EventPayload = closed(
  {
    type: Type.Union([Type.Literal('new'), Type.Literal('update'), Type.Literal('end')]),
    id: Type.String(),
    camera: Type.String(),
    start_ts: epochMs(),
    end_ts: Type.Union([epochMs(), Type.Null()], { description: 'null while the event is open' }),
    max_score: Type.Number(),
    frames: count('anomalous frames in the event so far'),
    bbox: Type.Union([BoundingBox, Type.Null()]),
  },
  'an anomaly event: opened, updated, ended',
);
export type EventPayload = Static<typeof EventPayload>;

export const RETUNE_STATES = ['idle', 'collecting', 'tuning', 'validating', 'done', 'rejected', 'failed'] as const;
export const RetuneStateName = Type.Enum(RETUNE_STATES);
export type RetuneStateName = Static<typeof RetuneStateName>;

/** `P/stats`, QoS 0. */
export const StatsPayload = closed(
  {
    ts: epochMs(),
    cameras: Type.Record(
      Type.String(),
      closed(
        { fps: Type.Number({ minimum: 0 }), processed: count('frames scored'), skipped: count('frames dropped because inference was behind') },
        'per camera',
      ),
    ),
    inference_ms: closed({ p50: Type.Number({ minimum: 0 }), p95: Type.Number({ minimum: 0 }) }, 'inference time percentiles'),
    provider: Type.String({ description: 'the execution provider in use' }),
    prompt_set: Type.Union([Type.String(), Type.Null()]),
    last_retune: Type.Union([closed({ ts: epochMs(), outcome: RetuneStateName }, 'the last finished job'), Type.Null()]),
    outbox: closed(
      {
        depth: count('events waiting for the broker'),
        bytes: count('bytes of those events on disk'),
        evicted: count('events evicted because the outbox was full'),
        dropped: Type.Record(Type.String(), count('events dropped for this reason'), { description: 'events dropped, counted per reason' }),
      },
      'the event outbox',
    ),
    memory: closed({ rss_mb: Type.Number({ minimum: 0 }), heap_mb: Type.Number({ minimum: 0 }) }, 'process memory'),
  },
  'periodic statistics of the agent',
);
export type StatsPayload = Static<typeof StatsPayload>;

/** `P/retune/state`, QoS 1, retained. */
export const RetuneStatePayload = closed(
  {
    state: RetuneStateName,
    progress: unitScore('0..1 over the whole job'),
    phase: Type.Optional({ ...TunePhase, description: "the tuner's step while tuning/validating: synthesis, features, steps, calibration" }),
    camera: Type.Optional(Type.String({ description: "which camera's normal frames the job learns from; absent = all" })),
    job_id: Type.Optional(Type.String()),
    trigger: Type.Optional(Type.Union([Type.Literal('cron'), Type.Literal('command'), Type.Literal('http'), Type.Literal('cli')])),
    prompt_set: Type.Optional(Type.String({ description: 'the prompt set the job produced (accepted or rejected)' })),
    metrics: Type.Optional(Type.Record(Type.String(), Type.Number(), { description: 'gate metrics, losses: whatever explains the outcome' })),
    message: Type.Optional(Type.String()),
    ts: epochMs(),
  },
  'the state of the re-tuning job',
);
export type RetuneStatePayload = Static<typeof RetuneStatePayload>;

/** `P/<cam>/mask`: the PNG bytes themselves (not JSON). */
export const MaskPayload = Type.String({ format: 'binary', description: '8-bit grey PNG of the anomaly map, camera size' });

/** The reply to `P/cmd/<name>` (the `CommandReply` of agent/commands/types.ts, as a schema). */
export const CommandReplyPayload = Type.Union(
  [
    closed({ ok: Type.Literal(true), command: Type.String(), request_id: Type.Optional(Type.String()), result: Type.Unknown() }, 'the command was carried out'),
    closed(
      { ok: Type.Literal(false), command: Type.String(), request_id: Type.Optional(Type.String()), error: Type.String() },
      'the command was refused; nothing changed',
    ),
  ],
  { description: 'request_id echoes the request; under MQTT 3.1.1 it is how a client matches the reply' },
);
export type CommandReplyPayload = Static<typeof CommandReplyPayload>;

// The schema and the dispatcher's type must describe the same JSON: each is assignable to the other.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const replySchemaMatchesType: Same<CommandReplyPayload, CommandReply> = true;
void replySchemaMatchesType;

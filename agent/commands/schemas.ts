// The arguments of every command, declared once: ajv checks them (util/schema.ts) and types.ts
// derives the handlers' argument types from the same declarations. Each command is a closed
// object: a field it does not declare, an inherited name like `__proto__` or `isPrototypeOf`
// included, is refused, never looked up or ignored. `description` is the phrase error replies use
// ("\"threshold\" must be <description>").
import Type, { type TProperties } from 'typebox';

/** Fields every command may carry besides its arguments: the reply's id and the signature. */
const ENVELOPE = {
  request_id: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'a string of 1 to 128 characters' })),
  ts: Type.Optional(Type.Integer({ description: 'an integer (milliseconds since the Unix epoch)' })),
  sig: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$', description: '64 lowercase hex digits' })),
};
export const ENVELOPE_FIELDS: readonly string[] = Object.keys(ENVELOPE);

const CameraName = Type.String({ minLength: 1, maxLength: 128, description: 'a camera name (a non-empty string of at most 128 characters)' });
const UnitInterval = Type.Number({ minimum: 0, maximum: 1, description: 'a number from 0 to 1' });

const command = <P extends TProperties>(args: P) => Type.Object({ ...ENVELOPE, ...args }, { additionalProperties: false });

export const COMMAND_SCHEMAS = {
  /** Start a re-tuning job; `camera` limits it to that camera's normal reservoir. */
  retune: command({ camera: Type.Optional(CameraName) }),
  /** Go back to the agent's previous prompt set (there is one set for all cameras). */
  rollback: command({}),
  reload: command({}),
  /** At least one of threshold / sensitivity / enabled; `enabled` needs `camera` (see validate.ts). */
  set: command({
    /** On the normalised score; null drops the override, back to the prompt set's calibrated threshold. */
    threshold: Type.Optional(Type.Union([UnitInterval, Type.Null()], { description: "a number from 0 to 1, or null for the prompt set's own threshold" })),
    /** As `detector.sensitivity`. */
    sensitivity: Type.Optional(UnitInterval),
    /** Which camera the change applies to; all cameras when absent (threshold, sensitivity). */
    camera: Type.Optional(CameraName),
    enabled: Type.Optional(Type.Boolean({ description: 'true or false' })),
  }),
  snapshot: command({ camera: CameraName }),
  status: command({}),
};

/** Said with an unknown field where a sender could expect the field to exist. */
export const UNKNOWN_FIELD_NOTES: { readonly [name: string]: string } = {
  rollback: "rollback applies to the agent's prompt set, which all cameras share",
};

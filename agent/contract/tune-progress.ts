// The `linewatch tune --progress json` protocol: how a re-tune job follows its tuner child. Each
// stdout line is one JSON object declared here as a schema (the type derived from it); the tuner
// writes lines with `tuneProgressText` and the job reads them with `parseTuneProgressLine`.
import Type, { type Static } from 'typebox';
import { err, ok, type Result } from '../../util/result.ts';
import { compileSchema, explainProblems } from '../../util/schema.ts';

const count = Type.Integer({ minimum: 0 });

/** The tuner's steps, in order: OAGM synthesis, vision features, prompt-learning steps, calibration. */
export const TunePhase = Type.Enum(['synthesis', 'features', 'steps', 'calibration']);

export const TuneProgress = Type.Object({ type: Type.Literal('progress'), phase: TunePhase, done: count, total: count }, { additionalProperties: false });
export const TuneResult = Type.Object(
  {
    type: Type.Literal('result'),
    id: Type.String(),
    path: Type.String(),
    status: Type.Enum(['accepted', 'rejected']),
    metrics: Type.Record(Type.String(), Type.Number()),
    reason: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

/** One JSON line of `linewatch tune --progress json` on stdout. */
export const TuneProgressLine = Type.Union([TuneProgress, TuneResult]);
export type TuneProgressLine = Static<typeof TuneProgressLine>;

// Checked per `type`, so a bad line is named by its key rather than as "fits neither kind".
const BY_TYPE = { progress: compileSchema(TuneProgress), result: compileSchema(TuneResult) } as const;

export function tuneProgressText(line: TuneProgressLine): string {
  return `${JSON.stringify(line)}\n`;
}

/** A line of the tuner's stdout, or what is wrong with it (key path and the value found). */
export function parseTuneProgressLine(text: string): Result<TuneProgressLine> {
  const what = `tuner progress line ${JSON.stringify(text.length > 120 ? `${text.slice(0, 120)}…` : text)}`;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return err(`${what}: not JSON (${(e as Error).message})`);
  }
  const type = typeof json === 'object' && json !== null && Object.hasOwn(json, 'type') ? (json as { type: unknown }).type : undefined;
  const validator = typeof type === 'string' && Object.hasOwn(BY_TYPE, type) ? BY_TYPE[type as keyof typeof BY_TYPE] : null;
  if (!validator) return err(`${what}: type must be one of ${Object.keys(BY_TYPE).join(', ')} (found ${JSON.stringify(type)})`);
  const line = validator.check(json);
  return line.ok ? ok(line.value) : err(`${what}: ${explainProblems(line.error, json).join('; ')}`);
}

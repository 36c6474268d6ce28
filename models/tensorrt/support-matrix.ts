// The ONNX-TensorRT parser's operator support matrix for one TensorRT major version, as a data
// file in this folder (transcribed from onnx/onnx-tensorrt docs/operators.md, with its source,
// commit and date): what `linewatch model check --target tensorrt` holds every node against.
// Kept in the repository rather than fetched at run time, so a check on a device without network
// gives the same answer as in CI, and a change of the matrix is a reviewed commit.
import { readFileSync } from 'node:fs';
import Type, { type Static } from 'typebox';
import { err, ok, type Result } from '../../util/result.ts';
import { checkAs, compileSchema } from '../../util/schema.ts';

/** Element types as the matrix spells them. */
export const MATRIX_TYPES = ['FP32', 'FP16', 'BF16', 'INT32', 'INT64', 'INT8', 'INT4', 'FP8', 'UINT8', 'BOOL'] as const;

const MatrixType = Type.Union(MATRIX_TYPES.map((t) => Type.Literal(t)));

/** The restrictions of the "Restrictions" column that a graph can be held to mechanically. */
const RestrictionCheck = Type.Union([
  // the input must be an initializer (or a Constant node's output)
  Type.Object({ kind: Type.Literal('initializerInput'), input: Type.Integer({ minimum: 0 }), name: Type.String() }, { additionalProperties: false }),
  // the input's value must be known when the engine is built: constants and static dimensions only
  Type.Object({ kind: Type.Literal('buildTimeConstantInput'), input: Type.Integer({ minimum: 0 }), name: Type.String() }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('maxOutputs'), count: Type.Integer({ minimum: 1 }) }, { additionalProperties: false }),
  Type.Object(
    {
      kind: Type.Literal('attribute'),
      name: Type.String(),
      allowed: Type.Array(Type.Union([Type.String(), Type.Integer()]), { minItems: 1 }),
      default: Type.Union([Type.String(), Type.Integer()]),
    },
    { additionalProperties: false },
  ),
]);

const OperatorEntry = Type.Object(
  {
    supported: Type.Boolean(),
    types: Type.Optional(Type.Array(MatrixType, { minItems: 1 })),
    restrictions: Type.Optional(Type.String()),
    checks: Type.Optional(Type.Array(RestrictionCheck, { minItems: 1 })),
  },
  { additionalProperties: false },
);

const SupportMatrixFile = Type.Object(
  {
    $comment: Type.String(),
    source: Type.Object(
      {
        url: Type.String({ pattern: '^https://' }),
        repository: Type.String(),
        path: Type.String(),
        ref: Type.String(),
        commit: Type.String({ pattern: '^[0-9a-f]{40}$' }),
        committed: Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$' }),
        transcribed: Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$' }),
      },
      { additionalProperties: false },
    ),
    /** The TensorRT releases whose parser the matrix was published for ("10.0", "10.1"). */
    tensorrtVersions: Type.Array(Type.String({ pattern: '^\\d+\\.\\d+$' }), { minItems: 1 }),
    opsets: Type.Object({ min: Type.Integer({ minimum: 1 }), max: Type.Integer({ minimum: 1 }) }, { additionalProperties: false }),
    notes: Type.Array(Type.String()),
    operators: Type.Record(Type.String({ pattern: '^[A-Za-z][A-Za-z0-9]*$' }), OperatorEntry),
  },
  { additionalProperties: false },
);

export type SupportMatrix = Static<typeof SupportMatrixFile>;
export type OperatorSupport = Static<typeof OperatorEntry>;
export type RestrictionCheck = Static<typeof RestrictionCheck>;
export type MatrixType = (typeof MATRIX_TYPES)[number];

const validator = compileSchema(SupportMatrixFile);

/** The matrix file of each TensorRT major version this linewatch knows. */
const MATRIX_FILES: Record<string, string> = { '10': 'onnx-tensorrt-10.x.json' };

export const DEFAULT_TENSORRT_VERSION = '10';

/** Parses a matrix file's JSON text; every schema problem and every inconsistency is named. */
export function parseSupportMatrix(text: string, what: string): Result<SupportMatrix> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return err(`${what} is not JSON: ${(e as Error).message}`);
  }
  const checked = checkAs(validator, json, what);
  if (!checked.ok) return checked;
  const m = checked.value;
  const problems = Object.entries(m.operators).flatMap(([op, e]) => {
    if (e.supported && !e.types) return [`${op} is supported but lists no types`];
    if (!e.supported && (e.types || e.checks)) return [`${op} is unsupported but lists types or checks`];
    return [];
  });
  if (m.opsets.min > m.opsets.max) problems.push(`opsets.min ${m.opsets.min} exceeds opsets.max ${m.opsets.max}`);
  return problems.length ? err(`${what}: ${problems.join('; ')}`) : ok(m);
}

export interface SelectedMatrix {
  matrix: SupportMatrix;
  /** The version asked for, as given ("10", "10.3"). */
  requested: string;
  /** Why the matrix may not be exact for the requested version; null when it was published for it. */
  caveat: string | null;
}

/**
 * The matrix for `version` ("10", "10.x", "10.1"). A minor release the matrix was not published
 * for gets that matrix with a caveat: the parser of a later 10.x release is not transcribed here.
 */
export function matrixFor(version: string): Result<SelectedMatrix> {
  const parsed = /^(\d+)(?:\.(\d+|x))?$/.exec(version);
  const file = parsed ? MATRIX_FILES[parsed[1]] : undefined;
  if (!parsed || !file) {
    const known = Object.keys(MATRIX_FILES).map((v) => `${v}.x`);
    return err(`no TensorRT operator matrix for version '${version}'; this linewatch has ${known.join(', ')} (models/tensorrt/)`);
  }
  const url = new URL(file, import.meta.url);
  const matrix = parseSupportMatrix(readFileSync(url, 'utf8'), `models/tensorrt/${file}`);
  if (!matrix.ok) return matrix;
  const minor = parsed[2];
  const published = matrix.value.tensorrtVersions;
  const exact = minor === undefined || minor === 'x' || published.includes(`${parsed[1]}.${minor}`);
  const caveat = exact
    ? null
    : `TensorRT ${version}: the matrix was published for ${published.join(', ')} (${matrix.value.source.ref}); this version's own matrix was not transcribed (a later parser may accept more)`;
  return ok({ matrix: matrix.value, requested: version, caveat });
}

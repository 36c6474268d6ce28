// One JSON Schema engine for every boundary that reads outside data (configuration, commands,
// payloads, manifests, prompt-set files, the tuner's progress lines). Schemas are declared with
// TypeBox, so the TypeScript type is derived from the same declaration (`Static<typeof S>`), and
// checked by ajv: `allErrors` (every problem at once), `strict` (a typo in a schema is an error at
// start-up, not a silent pass), and no prototype lookups (ajv reads own properties only, so
// `__proto__` or `hasOwnProperty` as a key is just an unknown key).
//
// Why TypeBox + ajv: TypeBox emits plain JSON Schema (draft-07 keywords, what ajv's default class takes), which is what the
// published `config/linewatch.schema.json` and the AsyncAPI document need verbatim; zod or valibot
// would need a converter and a second source of truth. ajv is the reference validator, compiles
// schemas to code once, and reports the instance path of each error.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { Static, TSchema } from 'typebox';
import { err, ok, type Result } from './result.ts';

const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
// `errorMessage`: an annotation a boundary may put on a schema node to phrase its problems in the
// user's terms (a pattern or a tuple reads badly as keywords); ajv only has to accept it.
ajv.addKeyword({ keyword: 'errorMessage', schemaType: 'string' });

/** One problem found in a value: where (JSON Pointer segments) and why. */
export interface SchemaProblem {
  path: (string | number)[];
  message: string;
  /** The ajv error it came from, for callers that phrase some keywords themselves. */
  error: ErrorObject;
}

export interface Validator<S extends TSchema> {
  readonly schema: S;
  /** Every problem at once, or the value typed by the schema. Never coerces, never throws. */
  check(value: unknown): Result<Static<S>, SchemaProblem[]>;
}

const decodePointer = (pointer: string): string[] =>
  pointer === ''
    ? []
    : pointer
        .slice(1)
        .split('/')
        .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));

function problemOf(e: ErrorObject): SchemaProblem {
  const segs: (string | number)[] = decodePointer(e.instancePath).map((s) => (/^\d+$/.test(s) ? Number(s) : s));
  const params = e.params as Record<string, unknown>;
  if (e.keyword === 'additionalProperties') {
    return { path: [...segs, String(params.additionalProperty)], message: 'unknown key', error: e };
  }
  if (e.keyword === 'required') {
    return { path: [...segs, String(params.missingProperty)], message: 'is required', error: e };
  }
  return { path: segs, message: e.message ?? e.keyword, error: e };
}

/** Compiles `schema` once; call at module level so a bad schema fails at start-up. */
export function compileSchema<S extends TSchema>(schema: S): Validator<S> {
  const validate = ajv.compile(schema) as ValidateFunction<Static<S>>;
  return {
    schema,
    check(value) {
      if (validate(value)) return { ok: true, value };
      return { ok: false, error: (validate.errors ?? []).map(problemOf) };
    },
  };
}

/** `a.b[2].c` for messages. */
export const formatPath = (segs: readonly (string | number)[]): string =>
  segs.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('') || '(root)';

/** The problems as one line each, `path: message`; for boundaries that report a single string. */
export function describeProblems(problems: readonly SchemaProblem[]): string {
  return problems.map((p) => `${formatPath(p.path)}: ${p.message}`).join('; ');
}

/** For boundaries that report one string: the value, or every problem joined into one message. */
export function checkAs<S extends TSchema>(validator: Validator<S>, value: unknown, what: string): Result<Static<S>> {
  const r = validator.check(value);
  return r.ok ? ok(r.value) : err(`${what}: ${describeProblems(r.error)}`);
}

/** The value at `segs` inside `root`, own properties only (so `__proto__` is never followed). */
function valueAt(root: unknown, segs: readonly (string | number)[]): unknown {
  let v = root;
  for (const s of segs) {
    if (v === null || typeof v !== 'object' || !Object.hasOwn(v, s)) return undefined;
    v = (v as Record<string | number, unknown>)[s];
  }
  return v;
}

const isUnionError = (p: SchemaProblem) => p.error.keyword === 'anyOf' || p.error.keyword === 'oneOf';
const within = (outer: readonly (string | number)[], inner: readonly (string | number)[]) =>
  outer.length <= inner.length && outer.every((s, i) => inner[i] === s);

/**
 * For files a person may have edited: one line per problem, `path must ... (found <value>)` unless
 * `line` words it otherwise. A value that fits no branch of a union is one problem at its path,
 * not one per branch of the union.
 */
export function explainProblems(problems: readonly SchemaProblem[], root: unknown, line = (path: string, phrase: string) => `${path} ${phrase}`): string[] {
  const unions = problems.filter(isUnionError).map((p) => p.path);
  return problems
    .filter((p) => isUnionError(p) || !unions.some((u) => within(u, p.path)))
    .map((p) => {
      const found = JSON.stringify(valueAt(root, p.path));
      const params = p.error.params as { allowedValues?: unknown[] };
      const phrase =
        p.error.keyword === 'additionalProperties'
          ? 'is not a known key'
          : p.error.keyword === 'required'
            ? 'is required'
            : p.error.keyword === 'enum'
              ? `must be one of ${params.allowedValues?.join(', ')} (found ${found})`
              : isUnionError(p)
                ? `has none of the allowed forms (found ${found})`
                : `${p.message} (found ${found})`;
      return line(formatPath(p.path), phrase);
    });
}

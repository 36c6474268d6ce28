// The first step of every command: bytes to a JSON object, with limits checked before JSON.parse
// so that nothing later (validation, the canonical JSON of the signature check) ever sees a payload
// that is huge or nested deep enough to exhaust the stack.
import { err, ok, type Result } from '../../util/result.ts';

/** Larger payloads are refused before parsing: no command needs more, and JSON.parse of megabytes stalls the loop. */
export const MAX_COMMAND_BYTES = 64 * 1024;
/** No command needs more than 2 levels; 16 leaves room and keeps every later walk shallow. */
export const MAX_COMMAND_DEPTH = 16;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPENERS = new Set([0x5b, 0x7b]); // [ {
const CLOSERS = new Set([0x5d, 0x7d]); // ] }

/** Whether brackets outside strings nest deeper than `limit`; one pass, no recursion. */
function nestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (OPENERS.has(c)) {
      if (++depth > limit) return true;
    } else if (CLOSERS.has(c)) depth--;
  }
  return false;
}

/** The JSON object of a command payload; an empty payload is `{}` (e.g. `mosquitto_pub -n`). */
export function parseCommandBody(payload: Buffer | string): Result<Record<string, unknown>> {
  const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  if (size > MAX_COMMAND_BYTES) return err(`payload of ${size} bytes exceeds the ${MAX_COMMAND_BYTES}-byte limit`);
  const text = payload.toString().trim();
  if (text === '') return ok({});
  if (nestsDeeperThan(text, MAX_COMMAND_DEPTH)) return err(`payload nests deeper than ${MAX_COMMAND_DEPTH} levels`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (e) {
    return err(`payload is not valid JSON: ${(e as Error).message}`);
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return err('payload must be a JSON object');
  return ok(body as Record<string, unknown>);
}

// The one place that masks credentials in text before it leaves the process (logs, MQTT, HTTP,
// the page, `validate-config`). ffmpeg repeats its input URL — password included — in its error
// lines, and such a line becomes a camera's status reason; so every text that may carry a source
// URL or an ffmpeg line goes through `redact`. Three layers:
// - URLs with userinfo, any scheme (`rtsp://user:pass@host` -> `rtsp://user:***@host`);
// - query or key=value parameters whose name says secret (`token=`, `password=`, `sig=`, ...);
// - the configured secret values themselves (MQTT password, command secret, camera passwords),
//   replaced literally wherever they appear: ffmpeg may print a decoded password on its own.

const MASK = '***';
/**
 * Shorter configured secrets are not replaced literally: masking every "ab" in every message
 * would garble the logs without protecting anything (such a password falls to guessing anyway).
 */
const MIN_LITERAL_LENGTH = 3;

// scheme://userinfo@ — userinfo runs to the last '@' before the host: no whitespace, path, query,
// fragment, quote or backslash (so a match never spans two JSON strings).
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#"'<>\\]*)@/gi;
const SECRET_WORDS = [
  'password',
  'passwd',
  'passphrase',
  'pwd',
  'pass',
  'token',
  'auth',
  'key',
  'apikey',
  'secret',
  'sig',
  'signature',
  'credential',
  'credentials',
];
// A secret word, alone or as the last part of a name: `client_secret`, `x-api-key`, `access_token`.
const SECRET_NAME = String.raw`(?:[\w.-]*[_.-])?(?:${SECRET_WORDS.join('|')})`;
const SECRET_PARAMETER = new RegExp(String.raw`((?<![\w.-])${SECRET_NAME}=)([^&\s#;,"'<>\\]+)`, 'gi');
const IS_SECRET_NAME = new RegExp(`^${SECRET_NAME}$`, 'i');
/** A user name without a password that is really a token (`https://ghp_…@github.com`): long, letters and digits. */
const TOKEN_LIKE = /^(?=.*\d)(?=.*[a-z])[\w.~%+-]{20,}$/i;

/** Every spelling of every configured secret, longest first: a secret containing another is replaced whole. */
let knownSecrets: string[] = [];

/** The forms a secret value takes in text: as typed, percent-encoded (in a URL), JSON-escaped. */
function spellings(secret: string): string[] {
  return [secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1)];
}

/**
 * Remembers configured secret values for every later `redact` in this process (the logger has no
 * configuration to read them from). Empty and very short values are ignored.
 */
export function addKnownSecrets(values: Iterable<string | null | undefined>): void {
  const added = [...values].filter((v): v is string => v != null && v.length >= MIN_LITERAL_LENGTH).flatMap(spellings);
  knownSecrets = [...new Set([...knownSecrets, ...added])].sort((a, b) => b.length - a.length);
}

/**
 * What a URL holds that must never be shown, decoded and as written: its password (or a token-like
 * user name) and the values of its secret query parameters.
 */
export function urlCredentials(text: string): string[] {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return [];
  }
  const found: string[] = [];
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  if (url.password) found.push(url.password, decode(url.password));
  else if (TOKEN_LIKE.test(url.username)) found.push(url.username, decode(url.username));
  for (const [name, value] of url.searchParams) if (IS_SECRET_NAME.test(name) && value) found.push(value);
  return [...new Set(found)];
}

function maskUserinfo(userinfo: string): string {
  const colon = userinfo.indexOf(':');
  if (colon >= 0) return `${userinfo.slice(0, colon)}:${MASK}`;
  return TOKEN_LIKE.test(userinfo) ? MASK : userinfo;
}

function replaceKnownSecrets(text: string): string {
  let out = text;
  for (const s of knownSecrets) if (out.includes(s)) out = out.split(s).join(MASK);
  return out;
}

/** `text` with credentials masked: URL userinfo, secret parameters, then the known secret values. */
export function redact(text: string): string {
  const masked = text
    .replace(URL_USERINFO, (_m, scheme: string, userinfo: string) => `${scheme}${maskUserinfo(userinfo)}@`)
    .replace(SECRET_PARAMETER, (_m, name: string) => `${name}${MASK}`);
  return replaceKnownSecrets(masked);
}

/** A copy of a JSON-like value with every string in it redacted (`/api/state`, `/healthz`, stats). */
export function redactDeep<T>(value: T): T {
  if (typeof value === 'string') return redact(value) as T;
  if (Array.isArray(value)) return value.map((v) => redactDeep(v)) as T;
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactDeep(v)])) as T;
  }
  return value;
}

// The `source:` of a camera, parsed once at configuration time into the kind of input it is,
// so that the camera code never guesses from a string again.
import { statSync } from 'node:fs';
import path from 'node:path';
import { redact, urlCredentials } from '../../util/redact.ts';
import { err, ok, type Result } from '../../util/result.ts';

export type SourceSpec =
  | { kind: 'rtsp'; url: string }
  | { kind: 'http'; url: string }
  | { kind: 'v4l2'; device: string }
  | { kind: 'file'; path: string }
  | { kind: 'dir'; path: string };

export type SourceKind = SourceSpec['kind'];

const schemeOf = (text: string): string | null => /^([a-z][a-z0-9+.-]*):\/\//i.exec(text)?.[1]?.toLowerCase() ?? null;

/**
 * Parses a camera source. Relative paths (files, `dir:` folders) resolve against `baseDir`.
 * Files and folders must exist now (a typo should stop start-up); devices may be plugged in later.
 */
export function parseSource(text: string, baseDir: string): Result<SourceSpec> {
  if (text.trim() === '') return err('must not be empty');
  const scheme = schemeOf(text);
  if (scheme !== null) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      return err(`not a valid URL: ${redact(text)}`);
    }
    if (!url.hostname) return err(`URL has no host: ${redact(text)}`);
    if (scheme === 'rtsp' || scheme === 'rtsps') return ok({ kind: 'rtsp', url: text });
    if (scheme === 'http' || scheme === 'https') return ok({ kind: 'http', url: text });
    return err(`unsupported URL scheme '${scheme}:' (use rtsp://, rtsps://, http:// or https://)`);
  }
  if (text.startsWith('dir:')) {
    const dir = path.resolve(baseDir, text.slice('dir:'.length));
    return isKind(dir, 'directory') ? ok({ kind: 'dir', path: dir }) : err(`no such directory: ${dir}`);
  }
  if (text.startsWith('/dev/')) return ok({ kind: 'v4l2', device: text });
  const file = path.resolve(baseDir, text);
  return isKind(file, 'file') ? ok({ kind: 'file', path: file }) : err(`no such video file: ${file}`);
}

function isKind(p: string, kind: 'file' | 'directory'): boolean {
  const st = statSync(p, { throwIfNoEntry: false });
  return st !== undefined && (kind === 'file' ? st.isFile() : st.isDirectory());
}

/** The source as it may appear in logs and on status pages: credentials masked by util/redact.ts. */
export function describeSource(spec: SourceSpec): string {
  switch (spec.kind) {
    case 'rtsp':
    case 'http':
      return redact(spec.url);
    case 'v4l2':
      return spec.device;
    case 'file':
      return spec.path;
    case 'dir':
      return `dir:${spec.path}`;
  }
}

/** The secret values in a source (URL password, token query parameters), for literal redaction. */
export function sourceCredentials(spec: SourceSpec): string[] {
  return spec.kind === 'rtsp' || spec.kind === 'http' ? urlCredentials(spec.url) : [];
}

import { readFileSync } from 'node:fs';
import { err, ok, type Result } from '../../util/result.ts';

/** Paths as they appear in the configuration (`mqtt.ca`, `mqtt.cert`, `mqtt.key`); null = not used. */
export interface TlsPaths {
  ca: string | null;
  cert: string | null;
  key: string | null;
}

export interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

function readPem(key: keyof TlsPaths, file: string): Result<Buffer> {
  try {
    return ok(readFileSync(file));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    return err(`mqtt.${key}: cannot read "${file}": ${reason}`);
  }
}

/**
 * Reads the TLS files once at start-up, so a wrong path stops the agent with the key that names it
 * instead of surfacing later as an opaque handshake failure on every reconnect.
 */
export function readTlsMaterial(paths: TlsPaths, url: string): Result<TlsMaterial> {
  const given = (Object.keys(paths) as (keyof TlsPaths)[]).filter((k) => paths[k] !== null);
  if (given.length === 0) return ok({});
  if (!/^(mqtts|wss):\/\//.test(url)) {
    return err(`mqtt.${given[0]} is set but mqtt.url "${url}" is not mqtts:// (the TLS files would be ignored)`);
  }
  if ((paths.cert === null) !== (paths.key === null)) {
    return err('mqtt.cert and mqtt.key go together: a client certificate needs its private key');
  }
  const material: TlsMaterial = {};
  for (const k of given) {
    const pem = readPem(k, paths[k] as string);
    if (!pem.ok) return pem;
    material[k] = pem.value;
  }
  return ok(material);
}

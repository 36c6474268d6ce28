// ffmpeg on PATH (the agent spawns `ffmpeg` for every camera that is not a `dir:` folder), its
// version, and the decoders the configured cameras need: H.264 for RTSP, MJPEG for HTTP streams
// and most USB cameras. A file's codec is not known before it is probed, so files need none here.
import { type ExecFileException, execFile } from 'node:child_process';
import type { SourceSpec } from '../../../agent/camera/source-spec.ts';
import type { AgentConfig } from '../../../agent/config.ts';
import { type Check, fail, ok, warn } from '../check.ts';

const NEEDED_DECODERS: Record<SourceSpec['kind'], string[]> = {
  rtsp: ['h264'],
  http: ['mjpeg'],
  v4l2: ['mjpeg', 'rawvideo'],
  file: [],
  dir: [],
};
const INSTALL = "install ffmpeg (Debian/Ubuntu: apt-get install ffmpeg) so that `ffmpeg` is on the agent's PATH";

function ffmpeg(args: string[]): Promise<{ stdout: string } | { error: ExecFileException }> {
  return new Promise((resolve) => {
    execFile('ffmpeg', ['-hide_banner', ...args], { maxBuffer: 1 << 22 }, (error, stdout) => resolve(error ? { error } : { stdout }));
  });
}

/** Decoder names from `ffmpeg -decoders` (lines such as ` V....D h264   H.264 / AVC ...`). */
export function parseDecoders(listing: string): Set<string> {
  const names = [...listing.matchAll(/^\s*[VAS][A-Z.]{5}\s+(\S+)/gm)].map((m) => m[1]);
  return new Set(names);
}

/** Camera name -> decoders it needs, for the enabled cameras that go through ffmpeg. */
function neededBy(config: AgentConfig): Map<string, string[]> {
  const needs = new Map<string, string[]>();
  for (const [name, cam] of Object.entries(config.cameras)) {
    if (cam.enabled && cam.source.kind !== 'dir') needs.set(name, NEEDED_DECODERS[cam.source.kind]);
  }
  return needs;
}

export const ffmpegCheck: Check = {
  name: 'ffmpeg',
  timeoutMs: 10_000,
  async run({ config }) {
    const needs = neededBy(config);
    const version = await ffmpeg(['-version']);
    if ('error' in version) {
      const why = version.error.code === 'ENOENT' ? 'not found on PATH' : `does not run: ${version.error.message}`;
      if (needs.size === 0) return warn(`ffmpeg ${why} (no configured camera needs it yet)`, INSTALL);
      return fail(`ffmpeg ${why}; cameras ${[...needs.keys()].join(', ')} need it`, INSTALL);
    }
    const name = /^ffmpeg version (\S+)/.exec(version.stdout)?.[1] ?? 'of unknown version';
    const wanted = [...new Set([...needs.values()].flat())];
    if (wanted.length === 0) return ok(`ffmpeg ${name}`);
    const listing = await ffmpeg(['-decoders']);
    if ('error' in listing) return fail(`ffmpeg ${name} cannot list its decoders: ${listing.error.message}`, INSTALL);
    const have = parseDecoders(listing.stdout);
    const missing = wanted.filter((d) => !have.has(d));
    if (missing.length === 0) return ok(`ffmpeg ${name}, decoders ${wanted.join(', ')}`);
    const who = [...needs].filter(([, ds]) => ds.some((d) => missing.includes(d))).map(([n]) => n);
    return fail(
      `ffmpeg ${name} lacks the ${missing.join(', ')} decoder(s) that cameras ${who.join(', ')} need`,
      `install an ffmpeg build with ${missing.join(', ')} (Debian's ffmpeg package has them)`,
    );
  },
};

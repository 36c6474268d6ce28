// One check per enabled camera: start its source exactly as the agent would (a `dir:` reader or
// an ffmpeg child) and wait for one frame within the camera's start_timeout_s, the time the agent
// gives a starting source before it calls it dead. Credentials in URLs never reach the output: ffmpeg's
// own messages repeat the URL, so it is replaced by its masked form.

import { describeSource, type SourceSpec } from '../../../agent/camera/source-spec.ts';
import { startSource } from '../../../agent/camera/sources/registry.ts';
import { sourceSettings } from '../../../agent/camera/sources/source.ts';
import type { RunningSource } from '../../../agent/camera/supervisor.ts';
import type { CameraConfig } from '../../../agent/config.ts';
import { type Check, fail, ok } from '../check.ts';

/** Any size will do to see a frame arrive; the model's is the cheapest to scale to. */
const SIZE = { width: 224, height: 224 };

function start(cam: CameraConfig, onFrame: () => void): RunningSource {
  return startSource(cam.source, sourceSettings(cam, SIZE), onFrame);
}

/** `text` with the source's raw URL (and its password alone) replaced by the masked form. */
function masked(text: string, source: SourceSpec): string {
  if (source.kind !== 'rtsp' && source.kind !== 'http') return text;
  const password = decodeURIComponent(new URL(source.url).password);
  const noUrl = text.replaceAll(source.url, describeSource(source));
  return password ? noUrl.replaceAll(password, '***') : noUrl;
}

export function cameraCheck(name: string, cam: CameraConfig): Check {
  const waitMs = cam.start_timeout_s * 1000;
  return {
    name: `camera ${name}`,
    timeoutMs: waitMs + 5000,
    async run() {
      const shown = describeSource(cam.source);
      let gotFrame!: () => void;
      const frame = new Promise<'frame'>((resolve) => (gotFrame = () => resolve('frame')));
      const source = start(cam, () => gotFrame());
      let timer: NodeJS.Timeout | undefined;
      const silent = new Promise<'silent'>((resolve) => (timer = setTimeout(() => resolve('silent'), waitMs)));
      const first = await Promise.race([frame, silent, source.ended]).finally(() => clearTimeout(timer));
      source.kill();
      await source.ended;
      if (first === 'frame') return ok(`${shown}: first frame received`);
      const fix =
        cam.source.kind === 'dir'
          ? 'put readable images in that folder'
          : 'check the camera is on and reachable from this device, the URL/path, credentials and codec (cameras.<name>.source)';
      if (first === 'silent')
        return fail(
          `${shown}: no frame within ${cam.start_timeout_s} s (start_timeout_s)`,
          `${fix}; or raise cameras.${name}.start_timeout_s for a slow source`,
        );
      return fail(`${shown}: ${masked(first, cam.source)}`, fix);
    },
  };
}

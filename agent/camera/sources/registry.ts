// The camera sources by kind, like MQTT.js's transports by URL scheme: the table's type requires an
// entry for every kind of SourceSpec, so a new kind without its source fails to compile instead of
// quietly going to ffmpeg.
import type { SourceKind, SourceSpec } from '../source-spec.ts';
import type { FrameSink, RunningSource } from '../supervisor.ts';
import { startDirSource } from './dir.ts';
import { startFileSource } from './file.ts';
import { startHttpSource } from './http.ts';
import { startRtspSource } from './rtsp.ts';
import type { SourceSettings, SourceStart, SpecOf } from './source.ts';
import { startV4l2Source } from './v4l2.ts';

const SOURCES: { readonly [K in SourceKind]: SourceStart<K> } = {
  rtsp: startRtspSource,
  http: startHttpSource,
  v4l2: startV4l2Source,
  file: startFileSource,
  dir: startDirSource,
};

/** Starts the source of `spec`'s kind. */
export function startSource<K extends SourceKind>(spec: SpecOf<K> & SourceSpec, settings: SourceSettings, sink: FrameSink): RunningSource {
  const start: SourceStart<K> = SOURCES[spec.kind as K];
  return start(spec, settings, sink);
}

// The configuration's one declaration. TypeBox gives the TypeScript type (`Static`), ajv validates
// with it (util/schema.ts), the LINEWATCH_* variables are derived from it (env.ts), and
// scripts/generate.ts publishes it as config/linewatch.schema.json for editors.
//
// Keys with a default are optional here (an editor must not flag them missing); the loader fills
// the defaults in before validation. `errorMessage` phrases a value that keywords would describe
// badly (patterns, tuples); `writeOnly` marks secrets, whose value never appears in a message.
// The map of cameras is `patternProperties` (the camera-name pattern) with
// `additionalProperties: false`, so a bad camera name is refused like an unknown key.
import Type, { type Static } from 'typebox';
import { WEIGHT_PRECISIONS } from '../../models/onnx/transformer.ts';
import { DEFAULT_CUDA, DEFAULT_TENSORRT, EXECUTION_PROVIDERS } from '../../models/runtime/execution-providers.ts';
import { SCORER_NAMES } from '../scoring/scorer.ts';

const HOST_NAME = '[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?';
const IPV6 = '[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*';
const PORT = '(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})';

export const CAMERA_NAME = '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$';

const port = (dflt: number, description: string) =>
  Type.Optional(Type.Integer({ minimum: 0, maximum: 65535, default: dflt, description: `${description} 0 = any free port.` }));

const nullableText = (description: string, extra: { minLength?: number; errorMessage?: string; writeOnly?: boolean } = {}) => {
  const { minLength = 1, ...rest } = extra;
  return Type.Optional(Type.Union([Type.String({ minLength }), Type.Null()], { default: null, description, ...rest }));
};

const tlsFile = (what: string) =>
  nullableText(`${what} (PEM file; needs an mqtts:// or wss:// url). Relative to this file's folder.`, { errorMessage: 'must be a file path or null' });

/** A Sparkplug id is one topic level: the specification reserves /, + and #. */
const sparkplugId = (description: string) =>
  Type.Optional(
    Type.Union([Type.String({ pattern: '^[^/+#]+$' }), Type.Null()], {
      default: null,
      errorMessage: 'must be a non-empty string without /, + or # (it is one Sparkplug topic level) or null',
      description,
    }),
  );

const pixel = (minimum: number) => Type.Integer({ minimum });
const point = Type.Tuple([Type.Number(), Type.Number()]);

export const ExecutionProviderSchema = Type.Enum([...EXECUTION_PROVIDERS]);

export const CameraSchema = Type.Object(
  {
    source: Type.String({
      minLength: 1,
      description:
        'rtsp:// or rtsps:// (RTSP over TCP), http(s):// (MJPEG stream), /dev/videoN (V4L2 device), a video file or dir:FOLDER of frames; relative paths are relative to this file.',
    }),
    fps: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 120, default: 5, description: 'Frames scored per second (ffmpeg drops the rest).' })),
    roi: Type.Optional(
      Type.Union([Type.Null(), Type.Tuple([pixel(0), pixel(0), pixel(1), pixel(1)])], {
        default: null,
        errorMessage: 'must be null or [x, y, width, height]: 4 integers, x, y >= 0, width, height > 0',
        description:
          '[x, y, width, height] in camera pixels, cropped before scoring (stretched to the model input: keep it near square); null = the whole frame.',
      }),
    ),
    ignore: Type.Optional(
      Type.Array(Type.Array(point, { minItems: 3, errorMessage: 'must be a list of at least 3 [x, y] points' }), {
        default: [],
        errorMessage: 'must be a list of polygons, each a list of [x, y] points',
        description: 'Polygons in camera pixels whose area is zeroed in the anomaly map.',
      }),
    ),
    enabled: Type.Optional(Type.Boolean({ default: true, description: 'false: published as `disabled`, not started.' })),
    watchdog_s: Type.Optional(
      Type.Number({ exclusiveMinimum: 0, default: 10, description: 'No frame for this many seconds: the source is stopped and restarted with backoff.' }),
    ),
    start_timeout_s: Type.Optional(
      Type.Number({
        exclusiveMinimum: 0,
        default: 20,
        description:
          'Time a source has for its first frame after each start (RTSP setup, waiting for a keyframe, probing) before it is stopped and restarted; watchdog_s applies from the first frame on.',
      }),
    ),
  },
  { additionalProperties: false, description: 'One camera: where its frames come from and how they are scored.' },
);

export const ConfigSchema = Type.Object(
  {
    device_id: Type.String({
      minLength: 1,
      pattern: '^[^/+#\\s]+$',
      errorMessage: 'must be a non-empty string without /, +, # or spaces (it is part of MQTT topics)',
      description: 'Part of every MQTT topic: no /, +, # or spaces.',
    }),
    data_dir: Type.Optional(
      Type.String({ minLength: 1, default: './var', description: "Bundles, prompt sets, normal reservoir, event outbox. Relative to this file's folder." }),
    ),
    model: Type.Optional(
      Type.Object(
        {
          bundle: Type.Optional(
            Type.String({
              pattern: '^(?:auto|(?:/|\\./|\\.\\./).*|[\\w.-]+/[\\w.-]+)$',
              default: 'auto',
              errorMessage: 'must be auto, a bundle directory (starting with /, ./ or ../) or a Hugging Face repo id owner/name',
              description:
                'auto: the installed bundle (a demo bundle with meaningless scores when none is installed); a directory (starting with /, ./ or ../) built by `linewatch model build`; or a Hugging Face repo id owner/name, pulled and built on first start.',
            }),
          ),
          precision: Type.Optional(
            Type.Enum([...WEIGHT_PRECISIONS], {
              default: 'fp32',
              description:
                'How a bundle the agent builds from a hub repo id stores its vision weights (int8: faster on CPUs with VNNI, approximate). A bundle directory keeps its own.',
            }),
          ),
          execution_providers: Type.Optional(
            Type.Array(ExecutionProviderSchema, {
              minItems: 1,
              uniqueItems: true,
              default: ['tensorrt', 'cuda', 'cpu'],
              errorMessage: `must be a non-empty list of ${EXECUTION_PROVIDERS.join(', ')} without repeats`,
              description: 'Tried in order; a failing one is logged and skipped. Re-tuning uses them too, with cpu last.',
            }),
          ),
          tensorrt: Type.Optional(
            Type.Object(
              {
                fp16: Type.Optional(
                  Type.Boolean({ default: DEFAULT_TENSORRT.fp16, description: 'Let TensorRT use float16 kernels (ORT_TENSORRT_FP16_ENABLE).' }),
                ),
                engine_cache: Type.Optional(
                  Type.Boolean({
                    default: DEFAULT_TENSORRT.engine_cache,
                    description:
                      'Keep built engines and the timing cache in <data_dir>/trt-cache/<bundle>/ (ORT_TENSORRT_ENGINE_CACHE_ENABLE, ORT_TENSORRT_CACHE_PATH).',
                  }),
                ),
                dla_core: Type.Optional(
                  Type.Union([Type.Null(), Type.Literal(0), Type.Literal(1)], {
                    default: DEFAULT_TENSORRT.dla_core,
                    errorMessage: 'must be null (the GPU), 0 or 1 (a DLA core of a Jetson Orin)',
                    description: 'Run on this DLA core of a Jetson Orin (needs fp16); null = the GPU (ORT_TENSORRT_DLA_ENABLE, ORT_TENSORRT_DLA_CORE).',
                  }),
                ),
                workspace_mb: Type.Optional(
                  Type.Union([Type.Null(), Type.Integer({ minimum: 1 })], {
                    default: DEFAULT_TENSORRT.workspace_mb,
                    errorMessage: 'must be null or a whole number of MiB >= 1',
                    description: "TensorRT's build workspace in MiB; null = onnxruntime's default, 1024 (ORT_TENSORRT_MAX_WORKSPACE_SIZE).",
                  }),
                ),
              },
              {
                additionalProperties: false,
                description:
                  "TensorRT settings, written as the ORT_TENSORRT_* variables; the npm onnxruntime-node 1.30 binding does not apply them, the Jetson image's does (README, GPU execution providers).",
              },
            ),
          ),
          cuda: Type.Optional(
            Type.Object(
              {
                device_id: Type.Optional(
                  Type.Integer({
                    minimum: 0,
                    default: DEFAULT_CUDA.device_id,
                    description: 'The GPU that cuda and tensorrt run on (onnxruntime-node passes it).',
                  }),
                ),
              },
              { additionalProperties: false, description: 'CUDA settings (the GPU also used by tensorrt).' },
            ),
          ),
          threads: Type.Optional(Type.Integer({ minimum: 0, default: 0, description: 'onnxruntime intra-op threads; 0 = its default.' })),
        },
        { additionalProperties: false, description: 'The CLIP bundle and how it runs.' },
      ),
    ),
    mqtt: Type.Optional(
      Type.Object(
        {
          url: Type.Optional(
            Type.String({
              pattern: '^(?:embedded|(?:mqtts?|wss?)://(?:[^\\s/?#@]*@)?[^\\s/?#@:][^\\s/?#@]*(?:[/?#]\\S*)?)$',
              default: 'embedded',
              errorMessage: 'must be "embedded" or an mqtt://, mqtts://, ws:// or wss:// URL with a host',
              description: '`embedded` (an in-process broker) or an mqtt://, mqtts://, ws:// or wss:// URL.',
            }),
          ),
          port: port(1883, 'Port of the embedded broker (only used with url: embedded).'),
          username: nullableText('Broker user name.'),
          password: nullableText('Broker password; prefer LINEWATCH_MQTT_PASSWORD to writing it here.', { writeOnly: true }),
          ca: tlsFile('Certificate authority'),
          cert: tlsFile('Client certificate (goes with key)'),
          key: tlsFile('Client key (goes with cert)'),
          protocol_version: Type.Optional(Type.Enum([4, 5], { default: 5, description: '5, falling back to 4 when the broker refuses 5.' })),
          topic_prefix: Type.Optional(
            Type.String({
              pattern: '^[^/+#\\s]+(?:/[^/+#\\s]+)*$',
              default: 'linewatch',
              errorMessage: 'must be topic levels separated by single /, without +, # or spaces',
              description: 'Topics are <topic_prefix>/<device_id>/...',
            }),
          ),
          command_secret: nullableText(
            'When set, every command must carry an HMAC-SHA256 of its payload keyed with this secret. Prefer LINEWATCH_MQTT_COMMAND_SECRET.',
            {
              minLength: 16,
              writeOnly: true,
              errorMessage: 'must be at least 16 characters (it keys HMAC-SHA256) or null',
            },
          ),
          outbox_max_mb: Type.Optional(
            Type.Number({ exclusiveMinimum: 0, default: 64, description: 'Disk budget for undelivered events; the oldest are evicted.' }),
          ),
        },
        { additionalProperties: false, description: 'The broker: events, results and status out, commands in.' },
      ),
    ),
    cameras: Type.Optional(
      Type.Record(Type.String({ pattern: CAMERA_NAME }), CameraSchema, {
        additionalProperties: false,
        default: {},
        errorMessage: 'camera names are part of MQTT topics: 1-64 letters, digits, _ or -, starting with a letter or digit',
        description: 'The cameras by name (part of MQTT topics: letters, digits, _ and -).',
      }),
    ),
    detector: Type.Optional(
      Type.Object(
        {
          sensitivity: Type.Optional(
            Type.Number({ minimum: 0, maximum: 1, default: 0.5, description: "0..1; 0.5 = the prompt set's calibrated threshold, higher flags more." }),
          ),
          event_open_frames: Type.Optional(Type.Integer({ minimum: 1, default: 3, description: 'Consecutive anomalous frames that open an event.' })),
          event_close_frames: Type.Optional(Type.Integer({ minimum: 1, default: 5, description: 'Consecutive normal frames that close it.' })),
          publish_masks: Type.Optional(
            Type.Enum(['always', 'on_anomaly', 'never'], { default: 'on_anomaly', description: 'When results carry the anomaly mask.' }),
          ),
          result_rate_hz: Type.Optional(Type.Number({ exclusiveMinimum: 0, default: 2, description: 'Results per camera per second at most.' })),
          event_update_interval_s: Type.Optional(
            Type.Number({ minimum: 0, default: 1, description: 'Least time between two `update` messages of one event.' }),
          ),
          scorers: Type.Optional(
            Type.Array(Type.Enum([...SCORER_NAMES]), {
              minItems: 1,
              uniqueItems: true,
              default: [...SCORER_NAMES],
              errorMessage: `must be a non-empty list of ${SCORER_NAMES.join(', ')} without repeats`,
              description:
                'The scorers whose maps are combined into the score (README, "Scorers"); one the prompt set has nothing for (memory before the first tuning) is left out.',
            }),
          ),
        },
        { additionalProperties: false, description: 'How anomaly scores become events.' },
      ),
    ),
    retune: Type.Optional(
      Type.Object(
        {
          cron: nullableText('node-cron expression (local time) of scheduled re-tuning; null disables the schedule.', {
            errorMessage: 'must be a cron expression or null',
          }),
          min_normals: Type.Optional(Type.Integer({ minimum: 1, default: 16, description: 'Normal frames needed before a job may start.' })),
          max_normals: Type.Optional(Type.Integer({ minimum: 1, default: 256, description: 'Normal reservoir size per camera.' })),
          steps: Type.Optional(Type.Integer({ minimum: 1, default: 300, description: 'Prompt-learning steps.' })),
          min_interval_s: Type.Optional(
            Type.Number({ minimum: 0, default: 600, description: 'Least time between the end of one job and the start of the next, whatever starts them.' }),
          ),
          sample_interval_s: Type.Optional(
            Type.Number({ minimum: 0, default: 5, description: 'Least time between two frames of one camera admitted to the normal reservoir.' }),
          ),
        },
        { additionalProperties: false, description: 'Re-tuning the prompts on normal frames collected in the field.' },
      ),
    ),
    http: Type.Optional(
      Type.Object(
        {
          enabled: Type.Optional(Type.Boolean({ default: true, description: 'Serve the live page and /metrics.' })),
          host: Type.Optional(
            Type.String({
              pattern: `^(?:${HOST_NAME}|${IPV6})$`,
              default: '127.0.0.1',
              errorMessage: 'must be an IP address or a host name',
              description: 'Address to bind; bind wider than loopback only behind a firewall.',
            }),
          ),
          port: port(8080, 'HTTP port.'),
          allowed_hosts: Type.Optional(
            Type.Array(
              Type.String({
                pattern: `^(?:${HOST_NAME}(?::${PORT})?|\\[${IPV6}\\](?::${PORT})?|${IPV6})$`,
                errorMessage: 'must be a host name or IP address, optionally with :port',
              }),
              {
                default: [],
                description: 'Host headers accepted besides the bound address and loopback names (host or host:port), e.g. for a reverse proxy or a DNS name.',
              },
            ),
          ),
        },
        { additionalProperties: false, description: 'The live page and /metrics.' },
      ),
    ),
    integrations: Type.Optional(
      Type.Object(
        {
          home_assistant: Type.Optional(
            Type.Object(
              {
                enabled: Type.Optional(
                  Type.Boolean({
                    default: false,
                    description:
                      'Publish Home Assistant MQTT discovery configs (retained): per camera a device with anomalous, score, mask and re-tune entities.',
                  }),
                ),
                discovery_prefix: Type.Optional(
                  Type.String({
                    pattern: '^[^/+#\\s]+(?:/[^/+#\\s]+)*$',
                    default: 'homeassistant',
                    errorMessage: 'must be topic levels separated by single /, without +, # or spaces',
                    description: "Home Assistant's discovery prefix (its MQTT integration setting).",
                  }),
                ),
              },
              { additionalProperties: false, description: "Home Assistant MQTT discovery, on the agent's broker connection." },
            ),
          ),
          sparkplug: Type.Optional(
            Type.Object(
              {
                enabled: Type.Optional(
                  Type.Boolean({
                    default: false,
                    description: 'Run a Sparkplug B edge node (its own MQTT session on the same broker) with a device per camera.',
                  }),
                ),
                group_id: sparkplugId('Sparkplug group id; required when enabled.'),
                edge_node_id: sparkplugId('Sparkplug edge node id; null = device_id.'),
              },
              { additionalProperties: false, description: 'Sparkplug B 3.0 edge node: spBv1.0/<group_id>/.../<edge_node_id>[/<camera>].' },
            ),
          ),
        },
        { additionalProperties: false, description: 'Optional integrations on the same broker.' },
      ),
    ),
  },
  { additionalProperties: false },
);

/** The configuration as written, once the defaults are filled in: every key with a default present. */
export type Filled<T> = T extends readonly unknown[] ? T : T extends object ? { -readonly [K in keyof T]-?: Filled<Exclude<T[K], undefined>> } : T;
export type RawConfig = Filled<Static<typeof ConfigSchema>>;
export type RawCamera = Filled<Static<typeof CameraSchema>>;

/** config/linewatch.schema.json: the same declaration, with what editors need to find and show it. */
export function publishedSchema(): object {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'urn:linewatch:config',
    title: 'linewatch agent configuration',
    description:
      'The YAML configuration of `linewatch run`. Every key can also be set from the environment: LINEWATCH_ + the key path joined with _, upper-cased (camera names upper-cased with - turned into _).',
    ...ConfigSchema,
  };
}

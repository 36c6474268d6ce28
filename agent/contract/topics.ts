// The topic tree of the MQTT contract (DESIGN.md, "MQTT contract"): every topic the agent
// publishes or subscribes to, built from one prefix, and the checks on a configured prefix.
import { err, ok, type Result } from '../../util/result.ts';

/** Every topic of the MQTT contract, rooted at P = `<topic_prefix>/<device_id>`. */
export interface Topics {
  readonly root: string;
  /** `P/status`: online / stopped, `offline` is the Will. */
  readonly status: string;
  readonly stats: string;
  readonly retuneState: string;
  /** `P/cmd/+`: what the agent subscribes to; `+` is one level, so replies below it never loop back. */
  readonly commandFilter: string;
  cameraStatus(camera: string): string;
  result(camera: string): string;
  mask(camera: string): string;
  events(camera: string): string;
  command(name: string): string;
  /** Where 3.1.1 clients (or MQTT 5 requests without a response topic) get their reply. */
  commandReply(name: string): string;
  /** The command name of a topic under `P/cmd/`, or null when the topic is something else. */
  commandName(topic: string): string | null;
}

/**
 * Why `segment` cannot be one topic level (device id, camera name), or null when it can.
 * Wildcards and separators would make topics that match other devices or other cameras.
 */
export function topicSegmentProblem(segment: string): string | null {
  if (segment.length === 0) return 'must not be empty';
  if (/[/+#\u0000]/.test(segment)) return 'must not contain "/", "+", "#" or NUL (it is one MQTT topic level)';
  return null;
}

/** The prefix may span several levels (`plant/hall2/linewatch`) but none may be empty or a wildcard. */
function prefixProblem(prefix: string): string | null {
  for (const level of prefix.split('/')) {
    const problem = topicSegmentProblem(level);
    if (problem) return `every level ${problem}`;
  }
  return null;
}

/**
 * Every topic of the MQTT contract below P = `<topic_prefix>/<device_id>`; `{camera}` and
 * `{command}` are one topic level each. The publisher's topic builders below and the channels of
 * docs/asyncapi.json are both made from this table, so the two cannot name different topics.
 */
export const TOPIC_TEMPLATES = {
  status: 'status',
  stats: 'stats',
  retuneState: 'retune/state',
  cameraStatus: '{camera}/status',
  result: '{camera}/result',
  mask: '{camera}/mask',
  events: '{camera}/events',
  command: 'cmd/{command}',
  commandReply: 'cmd/{command}/reply',
} as const;
export type TopicName = keyof typeof TOPIC_TEMPLATES;

/** The template with each `{name}` replaced by its value (a template names at most one). */
function fillTopic(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => values[name] ?? `{${name}}`);
}

/** Camera names are checked once by the configuration (`topicSegmentProblem`); these builders trust them. */
export function createTopics(topicPrefix: string, deviceId: string): Result<Topics> {
  const prefixIssue = prefixProblem(topicPrefix);
  if (prefixIssue) return err(`mqtt.topic_prefix "${topicPrefix}": ${prefixIssue}`);
  const deviceIssue = topicSegmentProblem(deviceId);
  if (deviceIssue) return err(`device_id "${deviceId}": ${deviceIssue}`);
  const root = `${topicPrefix}/${deviceId}`;
  const at = (name: TopicName, values: Record<string, string> = {}) => `${root}/${fillTopic(TOPIC_TEMPLATES[name], values)}`;
  const commandRoot = at('command', { command: '' });
  return ok({
    root,
    status: at('status'),
    stats: at('stats'),
    retuneState: at('retuneState'),
    commandFilter: at('command', { command: '+' }),
    cameraStatus: (camera) => at('cameraStatus', { camera }),
    result: (camera) => at('result', { camera }),
    mask: (camera) => at('mask', { camera }),
    events: (camera) => at('events', { camera }),
    command: (name) => at('command', { command: name }),
    commandReply: (name) => at('commandReply', { command: name }),
    commandName: (topic) => {
      if (!topic.startsWith(commandRoot)) return null;
      const name = topic.slice(commandRoot.length);
      return name.length > 0 && !name.includes('/') ? name : null;
    },
  });
}

// Reads the committed AsyncAPI document (docs/asyncapi.json) the way a consumer of the contract
// would: a topic is matched against the channel addresses, and a payload is checked against the
// schemas of that channel's messages. The contract tests run every message the agent publishes
// through it, so a payload that drifts from the published document fails them.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { TSchema } from 'typebox';
import { compileSchema, describeProblems } from '../../util/schema.ts';
import { REPO_ROOT } from './paths.ts';

const DOC_PATH = path.join(REPO_ROOT, 'docs/asyncapi.json');
const PNG_SIGNATURE = Buffer.from('89504e470d0a1a0a', 'hex');

type Json = Record<string, unknown>;

export interface ContractChannel {
  name: string;
  /** From the agent's point of view: `send` = the agent publishes on it. */
  action: 'send' | 'receive';
  /** Why the payload fits none of the channel's messages, or null when it fits one. */
  problem(payload: Buffer): string | null;
}

export interface ContractChannels {
  /** Every channel whose address the topic matches (one, unless the contract is ambiguous). */
  matching(topic: string): ContractChannel[];
  byName(name: string): ContractChannel;
}

/** A local `$ref` (`#/components/...`) of the document. */
function resolve(doc: Json, value: unknown): Json {
  const pointer = (value as { $ref?: string }).$ref;
  if (pointer === undefined) return value as Json;
  return pointer
    .slice(2)
    .split('/')
    .reduce<Json>((node, key) => node[key] as Json, doc);
}

function payloadCheck(contentType: string, schema: Json): (payload: Buffer) => string | null {
  if (contentType === 'image/png') return (payload) => (payload.subarray(0, 8).equals(PNG_SIGNATURE) ? null : 'not a PNG (no PNG signature)');
  const validator = compileSchema(schema as unknown as TSchema);
  const problemOf = (value: unknown) => {
    const r = validator.check(value);
    return r.ok ? null : describeProblems(r.error);
  };
  if (contentType === 'text/plain') return (payload) => problemOf(payload.toString());
  return (payload) => {
    let value: unknown;
    try {
      value = JSON.parse(payload.toString());
    } catch (e) {
      return `not JSON: ${(e as Error).message}`;
    }
    return problemOf(value);
  };
}

/**
 * `known` pins parameters to the values a test uses (its prefix, its cameras): without them a
 * topic such as `P/cmd/status` would also match `P/{camera}/status` with a camera called "cmd".
 */
export function loadContractChannels(known: Record<string, string[]> = {}, doc: Json = JSON.parse(readFileSync(DOC_PATH, 'utf8'))): ContractChannels {
  const channels = doc.channels as Record<string, Json>;
  const operations = Object.values(doc.operations as Record<string, Json>);
  const parameters = (doc.components as Json).parameters as Record<string, { enum?: string[] }>;
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

  const addressPattern = (address: string) => {
    const source = address
      .split(/(\{\w+\})/)
      .map((part) => {
        const param = /^\{(\w+)\}$/.exec(part)?.[1];
        if (!param) return escape(part);
        const values = known[param] ?? parameters[param]?.enum;
        if (values) return `(?:${values.map(escape).join('|')})`;
        return param === 'prefix' ? '.+' : '[^/]+';
      })
      .join('');
    return new RegExp(`^${source}$`);
  };

  const built = Object.entries(channels).map(([name, channel]) => {
    const operation = operations.find((o) => (o.channel as { $ref: string }).$ref === `#/channels/${name}`);
    const checks = Object.values(channel.messages as Json).map((m) => {
      const message = resolve(doc, m);
      return payloadCheck((message.contentType as string) ?? (doc.defaultContentType as string), resolve(doc, message.payload));
    });
    const address = channel.address as string | null;
    return {
      pattern: address === null ? null : addressPattern(address),
      channel: {
        name,
        // A channel without an operation of its own (the MQTT 5 response topic) is one the agent replies on.
        action: (operation?.action as 'send' | 'receive') ?? 'send',
        problem(payload: Buffer) {
          const problems = checks.map((check) => check(payload));
          return problems.includes(null) ? null : problems.join(' | or | ');
        },
      } satisfies ContractChannel,
    };
  });

  return {
    matching: (topic) => built.filter((b) => b.pattern?.test(topic)).map((b) => b.channel),
    byName(name) {
      const found = built.find((b) => b.channel.name === name);
      if (!found) throw new Error(`docs/asyncapi.json has no channel ${name}`);
      return found.channel;
    },
  };
}

export interface ContractReport {
  /** One line per message that fits no channel, or not its channel's schema. */
  problems: string[];
  /** How many messages of each channel were checked: a check that saw nothing proves nothing. */
  checked: Record<string, number>;
}

/**
 * Checks every message the agent published among `messages` (as an observer received them).
 * Messages on a `receive` channel are clients' commands, not the agent's, and are skipped; those
 * on `responseTopics` (MQTT 5 response topics the test chose) are checked as command replies.
 */
export function checkPublished(
  contract: ContractChannels,
  messages: readonly { topic: string; payload: Buffer }[],
  responseTopics: readonly string[] = [],
): ContractReport {
  const report: ContractReport = { problems: [], checked: {} };
  for (const { topic, payload } of messages) {
    const channels = responseTopics.includes(topic) ? [contract.byName('commandResponse')] : contract.matching(topic);
    if (channels.length !== 1) {
      report.problems.push(`${topic}: matches ${channels.length === 0 ? 'no channel' : channels.map((c) => c.name).join(' and ')} of docs/asyncapi.json`);
      continue;
    }
    const [channel] = channels;
    if (channel.action === 'receive') continue;
    report.checked[channel.name] = (report.checked[channel.name] ?? 0) + 1;
    const problem = channel.problem(payload);
    if (problem) report.problems.push(`${topic} (channel ${channel.name}): ${problem}`);
  }
  return report;
}

// Sparkplug B 3.0 topics (`spBv1.0/<group>/<type>/<edge node>[/<device>]`) and payloads, encoded
// and decoded by Eclipse Tahu's reference library (sparkplug-payload), so the protobuf layout is
// the one Sparkplug host applications (Ignition, HiveMQ, Tahu hosts) decode.
import sparkplugPayload from 'sparkplug-payload';
import type { TypeStr, UMetric, UPayload } from 'sparkplug-payload/lib/sparkplugbpayload.js';

export type { TypeStr, UMetric, UPayload };

const codec = sparkplugPayload.get('spBv1.0')!;
export const encodePayload = (p: UPayload): Buffer => Buffer.from(codec.encodePayload(p));
export const decodePayload = (b: Uint8Array): UPayload => codec.decodePayload(b);

export const NAMESPACE = 'spBv1.0';
export type NodeMessage = 'NBIRTH' | 'NDEATH' | 'NCMD';
export type DeviceMessage = 'DBIRTH' | 'DDATA' | 'DDEATH' | 'DCMD';

export interface SparkplugTopics {
  node(type: NodeMessage): string;
  device(type: DeviceMessage, device: string): string;
  /** What the edge node subscribes to for device commands. */
  readonly deviceCommandFilter: string;
  /** The device a DCMD topic addresses, or null when the topic is no DCMD of this edge node. */
  commandedDevice(topic: string): string | null;
}

/** Group, edge node and device ids are checked by the configuration (no /, + or #). */
export function sparkplugTopics(groupId: string, edgeNodeId: string): SparkplugTopics {
  const at = (type: string) => `${NAMESPACE}/${groupId}/${type}/${edgeNodeId}`;
  const dcmd = `${at('DCMD')}/`;
  return {
    node: at,
    device: (type, device) => `${at(type)}/${device}`,
    deviceCommandFilter: `${dcmd}+`,
    commandedDevice: (topic) => (topic.startsWith(dcmd) && !topic.slice(dcmd.length).includes('/') ? topic.slice(dcmd.length) || null : null),
  };
}

/** The value of a boolean metric named `name` in a command, or undefined when the command has none. */
export function commandFlag(payload: UPayload, name: string): boolean | undefined {
  const m = payload.metrics?.find((x) => x.name === name);
  return typeof m?.value === 'boolean' ? m.value : undefined;
}

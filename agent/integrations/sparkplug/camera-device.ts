// A camera as a Sparkplug device: the metrics of its DBIRTH (every metric it will ever report, with
// its current value; null until known) and of its DDATA (only the metrics that changed, report by
// exception). Names follow the contract's JSON fields so a host and an MQTT client read the same words.
import type { CameraState } from '../../contract/payloads.ts';
import type { TypeStr, UMetric } from './messages.ts';

export interface CameraReading {
  state: CameraState;
  score: number | null;
  anomalous: boolean | null;
  threshold: number | null;
  prompt_set: string | null;
  fps: number | null;
}

export const unknownReading = (): CameraReading => ({ state: 'offline', score: null, anomalous: null, threshold: null, prompt_set: null, fps: null });

/** Written true by a DCMD: starts a re-tune of this camera through the command dispatcher. */
export const RETUNE_METRIC = 'Device Control/Retune';
/** Written true by a DCMD: this device's DBIRTH again. */
export const DEVICE_REBIRTH_METRIC = 'Device Control/Rebirth';

const METRICS: readonly { name: keyof CameraReading; type: TypeStr }[] = [
  { name: 'score', type: 'Double' },
  { name: 'anomalous', type: 'Boolean' },
  { name: 'threshold', type: 'Double' },
  { name: 'prompt_set', type: 'String' },
  { name: 'fps', type: 'Double' },
  { name: 'state', type: 'String' },
];

export function birthMetrics(r: CameraReading, opts: { retune: boolean }): UMetric[] {
  const controls: UMetric[] = [{ name: DEVICE_REBIRTH_METRIC, type: 'Boolean', value: false }];
  if (opts.retune) controls.push({ name: RETUNE_METRIC, type: 'Boolean', value: false });
  return [...METRICS.map((m) => ({ name: m.name, type: m.type, value: r[m.name] })), ...controls];
}

export function changedMetrics(before: CameraReading, after: CameraReading): UMetric[] {
  return METRICS.filter((m) => before[m.name] !== after[m.name]).map((m) => ({ name: m.name, type: m.type, value: after[m.name] }));
}

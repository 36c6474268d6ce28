// Everything the detector keeps for one camera: its ignore polygons rasterised for the current
// geometry, and its event tracker. The inference side hands it each frame's anomaly map.

import type { ScoreScale } from '../../tuning/calibration.ts';
import type { SourceGeometry } from '../camera/frame.ts';
import { type DetectorEvent, type EventRules, EventTracker } from './events.ts';
import { type AnomalyMap, type FrameVerdict, judgeFrame } from './frame-verdict.ts';
import { buildIgnoreMask, type Polygon } from './ignore-mask.ts';

export interface DetectorSettings {
  sensitivity: number;
  rules: EventRules;
}

export class CameraDetector {
  readonly events: EventTracker;
  private ignoreKey = '';
  private ignoreMask: Uint8Array | null = null;

  constructor(
    readonly camera: string,
    private readonly ignore: Polygon[],
    private settings: DetectorSettings,
    newEventId?: () => string,
  ) {
    this.events = new EventTracker(camera, settings.rules, newEventId);
  }

  /** `set {sensitivity}`: applies from the next frame (the event rules come from the configuration). */
  setSensitivity(sensitivity: number): void {
    this.settings = { ...this.settings, sensitivity };
  }

  /**
   * Judges one frame and feeds the event tracker. Ignored cells of `map.values` are zeroed in
   * place, so a mask encoded afterwards shows them blank.
   */
  process(ts: number, map: AnomalyMap, source: SourceGeometry, cal: ScoreScale): { verdict: FrameVerdict; event: DetectorEvent | null } {
    const verdict = judgeFrame(map, this.ignoreFor(map, source), source, cal, this.settings.sensitivity);
    const event = this.events.observe({ ts, anomalous: verdict.anomalous, score: verdict.score, bbox: verdict.bbox });
    return { verdict, event };
  }

  /** The ignore mask for this map size and camera geometry; rebuilt only when they change (e.g. a camera restarted at another resolution). */
  ignoreFor(map: AnomalyMap, source: SourceGeometry): Uint8Array | null {
    const key = JSON.stringify([map.width, map.height, source]);
    if (key !== this.ignoreKey) {
      this.ignoreMask = buildIgnoreMask(this.ignore, map.width, map.height, source);
      this.ignoreKey = key;
    }
    return this.ignoreMask;
  }
}

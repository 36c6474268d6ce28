// The per-camera frame rules of CameraRuntime.handle, without a model or a broker: which frames
// feed the normal reservoir (every frame before the first tuning, afterwards only clearly normal
// ones outside events), when a mask is published (detector.publish_masks), and a threshold set by
// command overriding the prompt set's. The publisher and reservoir are recording doubles of the
// agent's own interfaces; maps are set by hand on an 8x8 model input.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { CameraRuntime, NORMAL_MARGIN } from '../../../agent/camera/camera-runtime.ts';
import { loadConfig } from '../../../agent/config.ts';
import type { ResultPayload } from '../../../agent/contract/payloads.ts';
import type { ActivePrompts } from '../../../agent/model/active-prompts.ts';
import type { ContractPublisher } from '../../../agent/mqtt/publisher.ts';
import type { NormalReservoir } from '../../../agent/retune/reservoir.ts';
import { promptScorerState } from '../../../agent/scoring/prompt-scorer.ts';
import { createAgentMetrics } from '../../../agent/stats/prometheus-metrics.ts';

const SIZE = 8;
const THRESHOLD = 0.5;

interface Recorded {
  results: ResultPayload[];
  masks: number[];
  events: string[];
  offered: number[];
}

async function runtime(
  opts: { publishMasks?: string; tuned?: boolean } = {},
): Promise<{ cam: CameraRuntime; rec: Recorded; frame: (id: number, peak: number) => Promise<void> }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lw-camrt-'));
  const file = path.join(dir, 'agent.yaml');
  await fs.writeFile(
    file,
    `device_id: line1\ndata_dir: ${dir}\ncameras: { cam1: { source: "dir:${dir}" } }\ndetector: { publish_masks: ${opts.publishMasks ?? 'on_anomaly'}, event_open_frames: 1, event_close_frames: 1 }\n`,
  );
  const cfg = loadConfig(file, {});
  assert.ok(cfg.ok, cfg.ok ? '' : cfg.error);
  const rec: Recorded = { results: [], masks: [], events: [], offered: [] };
  const publisher = {
    result: (_camera: string, r: ResultPayload) => (rec.results.push(r), true),
    mask: (_camera: string, _png: Buffer, frameId: number) => (rec.masks.push(frameId), true),
    event: async (e: { type: string }) => (rec.events.push(e.type), { ok: true as const, value: undefined }),
    cameraStatus: async () => {},
  } as unknown as ContractPublisher;
  const reservoir = {
    offer: async (_c: string, _rgb: Uint8Array, _w: number, _h: number, ts: number) => (rec.offered.push(ts), true),
  } as unknown as NormalReservoir;
  const prompts: ActivePrompts = {
    id: 'set-1',
    scorers: { prompt: promptScorerState(new Float32Array(4), { min: 0, max: 1, threshold: THRESHOLD }) },
    tuned: opts.tuned ?? true,
  };
  const cam = new CameraRuntime('cam1', cfg.value.cameras.cam1, {
    publisher: () => publisher,
    metrics: createAgentMetrics(),
    reservoir,
    model: { prompts, promptSetId: prompts.id, inputSize: SIZE },
    offer: () => assert.fail('no source runs in this test'),
    detector: cfg.value.detector,
  });
  const frame = async (id: number, peak: number) => {
    const map = new Float32Array(SIZE * SIZE).fill(peak / 4);
    map[SIZE * 3 + 4] = peak;
    await cam.handle(
      {
        frame: {
          camera: 'cam1',
          frameId: id,
          ts: id * 1000,
          width: SIZE,
          height: SIZE,
          rgb: new Uint8Array(SIZE * SIZE * 3),
          source: { width: SIZE, height: SIZE, roi: null },
        },
        scores: { prompt: { map, rawScore: peak } },
        latencyMs: { pre: 1, infer: 2 },
      },
      Date.now(),
    );
  };
  return { cam, rec, frame };
}

test('after tuning only clearly normal frames outside events feed the reservoir', async () => {
  const { rec, frame } = await runtime();
  await frame(1, NORMAL_MARGIN * THRESHOLD); // at the margin: clearly normal
  await frame(2, 0.4); // normal, but too close to the threshold
  await frame(3, 0.9); // anomalous: opens an event (event_open_frames 1)
  await frame(4, 0.1); // clearly normal again: closes the event (event_close_frames 1)
  await frame(5, 0.1);
  assert.deepEqual(
    rec.results.map((r) => r.anomalous),
    [false, false, true, false, false],
  );
  assert.deepEqual(rec.events, ['new', 'end']);
  assert.deepEqual(rec.offered, [1000, 4000, 5000], 'frames 1, 4 and 5; not the borderline or the anomalous one');
});

test('before the first tuning every frame feeds the reservoir, anomalous ones too', async () => {
  const { rec, frame } = await runtime({ tuned: false });
  for (const [id, peak] of [
    [1, 0.1],
    [2, 0.4],
    [3, 0.9],
  ])
    await frame(id, peak);
  assert.deepEqual(rec.offered, [1000, 2000, 3000]);
});

test('detector.publish_masks decides which frames get a mask', async () => {
  const peaks = [0.1, 0.9, 0.2];
  const masksFor = async (publishMasks: string) => {
    const { rec, frame } = await runtime({ publishMasks });
    for (const [i, peak] of peaks.entries()) await frame(i + 1, peak);
    return rec.masks;
  };
  assert.deepEqual(await masksFor('on_anomaly'), [2]);
  assert.deepEqual(await masksFor('always'), [1, 2, 3]);
  assert.deepEqual(await masksFor('never'), []);
});

test("a threshold set by command replaces the prompt set's until changed again or dropped with null", async () => {
  const { cam, rec, frame } = await runtime();
  await frame(1, 0.7);
  cam.applyOverrides({ threshold: 0.8 });
  await frame(2, 0.7);
  cam.applyOverrides({ threshold: 0.6 });
  await frame(3, 0.7);
  assert.deepEqual(cam.overrides, { sensitivity: 0.5, threshold: 0.6 });
  cam.applyOverrides({ sensitivity: 0.5 });
  await frame(4, 0.7);
  cam.applyOverrides({ threshold: null });
  await frame(5, 0.7);
  assert.deepEqual(
    rec.results.map((r) => [r.threshold, r.anomalous]),
    [
      [THRESHOLD, true],
      [0.8, false],
      [0.6, true],
      [0.6, true],
      [THRESHOLD, true],
    ],
  );
  assert.deepEqual(cam.overrides, { sensitivity: 0.5, threshold: null });
});

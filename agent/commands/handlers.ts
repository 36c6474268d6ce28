// What the agent does for each command, whichever transport brought it (MQTT or the page): the
// dispatcher has validated and authenticated the arguments; these act on the agent's parts and
// return a value for the reply or an error that leaves the agent unchanged.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { PromptStore } from '../../tuning/prompt-store.ts';
import { err, ok, type Result } from '../../util/result.ts';
import type { Cameras } from '../camera/cameras.ts';
import type { StatsPayload } from '../contract/payloads.ts';
import type { Engine } from '../engine/engine.ts';
import type { ActiveModel } from '../model/active-model.ts';
import type { RetuneTrigger } from '../retune/retune-trigger.ts';
import type { CommandHandlers, SetArgs, SnapshotArgs } from './types.ts';

export interface CommandTargets {
  cameras: Cameras;
  model: ActiveModel;
  engine: Engine;
  store: PromptStore;
  retune: RetuneTrigger;
  stats: () => StatsPayload;
  /** `snapshot` writes under `<data_dir>/snapshots/`. */
  dataDir: string;
}

export function createCommandHandlers(t: CommandTargets): CommandHandlers {
  return {
    retune: async (args) => {
      if (args.camera) {
        const c = t.cameras.get(args.camera);
        if (!c.ok) return c;
      }
      return t.retune.start({ trigger: 'command', camera: args.camera });
    },
    rollback: async () => {
      const r = await t.store.rollback();
      if (!r.ok) return r;
      const active = await t.model.swapPrompts();
      return ok({ prompt_set: active.id });
    },
    reload: () => reload(t),
    set: (args) => set(t, args),
    snapshot: (args) => snapshot(t, args),
    status: async () => ok(t.stats()),
  };
}

async function reload(t: CommandTargets): Promise<Result<unknown>> {
  const size = t.model.inputSize;
  const r = await t.model.load();
  if (!r.ok) return r;
  if (t.model.inputSize !== size) await t.cameras.restartRunning();
  return ok({ bundle: t.model.bundle.dir, prompt_set: t.model.prompts.id, provider: t.engine.provider });
}

/** Every addressed camera is checked before any is changed. */
async function set(t: CommandTargets, args: SetArgs): Promise<Result<unknown>> {
  const selected = t.cameras.select(args.camera);
  if (!selected.ok) return selected;
  for (const c of selected.value) {
    c.applyOverrides(args);
    if (args.enabled !== undefined) await c.setEnabled(args.enabled);
  }
  return ok(Object.fromEntries(selected.value.map((c) => [c.name, { ...c.overrides, enabled: c.status.state !== 'disabled' }])));
}

async function snapshot(t: CommandTargets, args: SnapshotArgs): Promise<Result<unknown>> {
  const c = t.cameras.get(args.camera);
  if (!c.ok) return c;
  const snap = await c.value.latestPng();
  if (!snap) return err(`camera '${args.camera}' has not delivered a frame yet`);
  const file = path.join(t.dataDir, 'snapshots', `${args.camera}-${snap.ts}-${snap.frameId}.png`);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, snap.png);
  return ok({ path: file, frame_id: snap.frameId, ts: snap.ts, score: snap.score, anomalous: snap.anomalous });
}

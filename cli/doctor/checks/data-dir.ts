// data_dir: creatable, writable, and with room for what the agent keeps there at most: the event
// outbox (mqtt.outbox_max_mb) and the normal-frame reservoir (retune.max_normals PNG frames per
// camera, counted at their uncompressed size as an upper bound).
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { AgentConfig } from '../../../agent/config.ts';
import { type Check, fail, ok } from '../check.ts';

const MiB = 2 ** 20;
/** The reservoir stores frames at the model input size; 224 px is every bundle's so far. */
const FRAME_SIDE = 224;

export function neededBytes(config: AgentConfig): number {
  const cameras = Object.keys(config.cameras).length;
  const reservoir = cameras * config.retune.max_normals * FRAME_SIDE * FRAME_SIDE * 3;
  return config.mqtt.outbox_max_mb * MiB + reservoir;
}

const mb = (bytes: number) => `${Math.round(bytes / MiB)} MB`;

export const dataDirCheck: Check = {
  name: 'data_dir',
  timeoutMs: 10_000,
  async run({ config }) {
    const dir = config.data_dir;
    const writable = `make ${dir} writable for the agent's user, or set data_dir (LINEWATCH_DATA_DIR) to a writable folder`;
    try {
      await fs.mkdir(dir, { recursive: true });
      const probe = path.join(dir, `.doctor-${process.pid}`);
      await fs.writeFile(probe, 'probe');
      await fs.rm(probe);
    } catch (e) {
      return fail(`${dir} is not writable (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, writable);
    }
    const st = await fs.statfs(dir);
    const free = st.bavail * st.bsize;
    const need = neededBytes(config);
    const detail = `${dir}: ${mb(free)} free, up to ${mb(need)} needed (outbox ${config.mqtt.outbox_max_mb} MB + reservoir)`;
    if (free < need) return fail(detail, 'free space on that filesystem, move data_dir to a larger one, or lower mqtt.outbox_max_mb / retune.max_normals');
    return ok(detail);
  },
};

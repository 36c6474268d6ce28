// The table of checks, in report order; cameras contribute one check each.
import type { AgentConfig } from '../../agent/config.ts';
import type { Check } from './check.ts';
import { brokerCheck } from './checks/broker.ts';
import { bundleCheck } from './checks/bundle.ts';
import { cameraCheck } from './checks/camera.ts';
import { dataDirCheck } from './checks/data-dir.ts';
import { executionProvidersCheck } from './checks/execution-providers.ts';
import { ffmpegCheck } from './checks/ffmpeg.ts';
import { httpPortCheck } from './checks/http-port.ts';
import { nodeVersionCheck } from './checks/node-version.ts';
import { promptStoreCheck } from './checks/prompt-store.ts';
import { tensorrtCheck } from './checks/tensorrt.ts';

export function checksFor(config: AgentConfig): Check[] {
  const cameras = Object.entries(config.cameras)
    .filter(([, cam]) => cam.enabled)
    .map(([name, cam]) => cameraCheck(name, cam));
  return [
    nodeVersionCheck,
    ffmpegCheck,
    executionProvidersCheck,
    bundleCheck,
    tensorrtCheck,
    promptStoreCheck,
    dataDirCheck,
    brokerCheck,
    ...cameras,
    httpPortCheck,
  ];
}

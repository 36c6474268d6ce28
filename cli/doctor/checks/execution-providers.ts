// `model.execution_providers` against what this onnxruntime-node install can run. onnxruntime
// fails session creation for a provider whose libraries are missing, and the agent then falls
// back down the list; this says before start which provider the agent will really get and why.
// CUDA and TensorRT need the provider libraries that onnxruntime-node's install script fetches
// (skipped by default, see .npmrc) and the NVIDIA libraries they link against.
import ort from 'onnxruntime-node';
import { providerProblem } from '../../../models/runtime/provider-availability.ts';
import { type Check, fail, ok } from '../check.ts';

export const executionProvidersCheck: Check = {
  name: 'execution providers',
  timeoutMs: 10_000,
  async run({ config }) {
    const wanted = config.model.execution_providers;
    const problems = await Promise.all(wanted.map((p) => providerProblem(p)));
    const usable = wanted.findIndex((_, i) => problems[i] === null);
    const unusable = wanted.map((p, i) => (problems[i] ? `${p}: ${problems[i].missing}` : null)).filter((x) => x !== null);
    const actions = [...new Set(problems.filter((p) => p !== null).map((p) => p.action))].join('; ');
    if (usable === 0) return ok(`${wanted[0]} available (onnxruntime-node ${ort.env.versions.common})`);
    if (usable < 0) return fail(`no configured provider can run: ${unusable.join('; ')}`, actions);
    const why = `the agent would run on ${wanted[usable]}, not ${wanted[0]}: ${unusable.join('; ')}`;
    // The first entry is the one the line was set up for: running on a later one is a degraded line.
    return fail(why, `${actions}; or put ${wanted[usable]} first in model.execution_providers if that is intended`);
  },
};

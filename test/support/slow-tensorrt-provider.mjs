// TEST DOUBLE of the TensorRT execution provider, for machines without a GPU: a session asked for
// with tensorrt first takes LW_SLOW_TENSORRT_MS (as an engine build would), then runs on the CPU.
// Preloaded with `node --import` (NODE_OPTIONS), so it also runs in the agent's inference worker
// (workers inherit the parent's execArgv); it replaces onnxruntime's InferenceSession.create there.
import ort from 'onnxruntime-node';

const delayMs = Number(process.env.LW_SLOW_TENSORRT_MS ?? 3000);
const create = ort.InferenceSession.create.bind(ort.InferenceSession);
const nameOf = (entry) => (typeof entry === 'string' ? entry : entry?.name);

ort.InferenceSession.create = async (model, options = {}) => {
  if (nameOf(options.executionProviders?.[0]) !== 'tensorrt') return create(model, options);
  await new Promise((resolve) => setTimeout(resolve, delayMs));
  return create(model, { ...options, executionProviders: ['cpu'] });
};

// MPTS, meta-guiding prompt tuning: the task gradient is kept where it agrees with the gradient of
// the meta-prompt loss; where they conflict (negative dot product) the component of g_task
// against g_meta is removed, lambda scaling how much (1 = fully, the ProGrad rule):
//   g = g_task - lambda (g_task . g^_meta) g^_meta   if g_task . g_meta < 0,   else g_task.

export interface Projection {
  grad: Float32Array;
  /** Whether the two gradients conflicted (and g_task was projected). */
  conflicting: boolean;
  /** cos(g_task, g_meta), for progress reports; 0 when either is zero. */
  cosine: number;
}

export function mptsProject(gTask: Float32Array, gMeta: Float32Array, lambda = 1): Projection {
  if (gTask.length !== gMeta.length) throw new RangeError(`g_task has ${gTask.length} values, g_meta ${gMeta.length}`);
  let dot = 0;
  let taskSq = 0;
  let metaSq = 0;
  for (let i = 0; i < gTask.length; i++) {
    dot += gTask[i] * gMeta[i];
    taskSq += gTask[i] * gTask[i];
    metaSq += gMeta[i] * gMeta[i];
  }
  const cosine = taskSq > 0 && metaSq > 0 ? dot / Math.sqrt(taskSq * metaSq) : 0;
  if (!(dot < 0)) return { grad: new Float32Array(gTask), conflicting: false, cosine };
  // (g_task . g^_meta) g^_meta = (dot / |g_meta|^2) g_meta
  const factor = (lambda * dot) / metaSq;
  const grad = new Float32Array(gTask.length);
  for (let i = 0; i < grad.length; i++) grad[i] = gTask[i] - factor * gMeta[i];
  return { grad, conflicting: true, cosine };
}

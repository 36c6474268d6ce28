/**
 * Otsu's threshold: the cut of a 256-bin histogram (over [min, max] of `values`) that maximises
 * the between-class variance. Values above the returned threshold form the foreground. Returns
 * null when all values are equal (there is nothing to separate).
 */
export function otsuThreshold(values: ArrayLike<number>, bins = 256): number | null {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    if (values[i] < min) min = values[i];
    if (values[i] > max) max = values[i];
  }
  if (!(max > min)) return null;
  const hist = new Float64Array(bins);
  const scale = bins / (max - min);
  for (let i = 0; i < values.length; i++) hist[Math.min(bins - 1, Math.floor((values[i] - min) * scale))]++;

  let totalMass = 0;
  for (let b = 0; b < bins; b++) totalMass += b * hist[b];
  let below = 0;
  let belowMass = 0;
  let best = -1;
  let bestBin = 0;
  for (let b = 0; b < bins - 1; b++) {
    below += hist[b];
    belowMass += b * hist[b];
    const above = values.length - below;
    if (below === 0 || above === 0) continue;
    const diff = belowMass / below - (totalMass - belowMass) / above;
    const between = below * above * diff * diff;
    if (between > best) {
      best = between;
      bestBin = b;
    }
  }
  return min + (bestBin + 1) / scale;
}

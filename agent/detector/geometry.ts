// Mapping between the model's output grid and camera pixels. A frame is the camera picture's
// view rectangle (the roi, or the whole picture) stretched to the model input size, so a map of
// mapW x mapH cells covers that rectangle with cells of (roiW / mapW) x (roiH / mapH) pixels.
import type { Roi, SourceGeometry } from '../camera/frame.ts';

/** An axis-aligned box in camera pixels: [x, y, width, height] (same layout as a roi). */
export type Box = [number, number, number, number];

/** The part of the camera picture the model saw. */
export function viewRect(g: SourceGeometry): Roi {
  return g.roi ?? [0, 0, g.width, g.height];
}

/** Camera coordinates of the centre of map cell (i, j) (column i, row j). */
export function cellCentre(i: number, j: number, mapW: number, mapH: number, g: SourceGeometry): [number, number] {
  const [rx, ry, rw, rh] = viewRect(g);
  return [rx + ((i + 0.5) * rw) / mapW, ry + ((j + 0.5) * rh) / mapH];
}

/**
 * The camera-pixel box covering map cells i0..i1, j0..j1 (inclusive), grown outwards to whole
 * pixels and clipped to the picture.
 */
export function cellsToBox(i0: number, j0: number, i1: number, j1: number, mapW: number, mapH: number, g: SourceGeometry): Box {
  const [rx, ry, rw, rh] = viewRect(g);
  const x0 = Math.max(0, Math.floor(rx + (i0 * rw) / mapW));
  const y0 = Math.max(0, Math.floor(ry + (j0 * rh) / mapH));
  const x1 = Math.min(g.width, Math.ceil(rx + ((i1 + 1) * rw) / mapW));
  const y1 = Math.min(g.height, Math.ceil(ry + ((j1 + 1) * rh) / mapH));
  return [x0, y0, x1 - x0, y1 - y0];
}

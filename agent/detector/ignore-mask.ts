// Ignore polygons (camera pixels) rasterised onto the model's output grid: a cell is ignored
// when its centre lies inside any polygon.
import type { SourceGeometry } from '../camera/frame.ts';
import { cellCentre } from './geometry.ts';

export type Point = [number, number];
export type Polygon = Point[];

/** Even-odd rule: a ray from (x, y) towards +x crosses the boundary an odd number of times. */
export function pointInPolygon(x: number, y: number, poly: Polygon): boolean {
  let inside = false;
  for (let a = 0, b = poly.length - 1; a < poly.length; b = a++) {
    const [xa, ya] = poly[a];
    const [xb, yb] = poly[b];
    if (ya > y !== yb > y && x < xa + ((y - ya) * (xb - xa)) / (yb - ya)) inside = !inside;
  }
  return inside;
}

/** One byte per map cell, row-major: 1 = ignored. Null when no cell is ignored. */
export function buildIgnoreMask(polygons: Polygon[], mapW: number, mapH: number, g: SourceGeometry): Uint8Array | null {
  if (polygons.length === 0) return null;
  const mask = new Uint8Array(mapW * mapH);
  let any = false;
  for (let j = 0; j < mapH; j++) {
    for (let i = 0; i < mapW; i++) {
      const [x, y] = cellCentre(i, j, mapW, mapH, g);
      if (polygons.some((p) => pointInPolygon(x, y, p))) {
        mask[j * mapW + i] = 1;
        any = true;
      }
    }
  }
  return any ? mask : null;
}

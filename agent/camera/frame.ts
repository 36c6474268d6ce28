// What a camera hands to inference: one RGB frame at the model's input size, plus the geometry
// of the camera picture it was cut from, so that masks and boxes can be mapped back to camera pixels.

/** A crop rectangle in camera pixels: [x, y, width, height]. */
export type Roi = [number, number, number, number];

/** The camera picture a frame came from: its full size and the crop taken before scaling (null = whole picture). */
export interface SourceGeometry {
  width: number;
  height: number;
  roi: Roi | null;
}

export interface Frame {
  camera: string;
  /** Increases by one per delivered frame of this camera, across source restarts. */
  frameId: number;
  /** Wall-clock time (ms since the epoch) at which the frame was fully received. */
  ts: number;
  /** Frame size = the model's input size. */
  width: number;
  height: number;
  /** width * height * 3 bytes, packed RGB, row-major. A buffer of its own, so it can be transferred to a worker. */
  rgb: Uint8Array;
  source: SourceGeometry;
}

/** Model input size; cameras scale (after the optional crop) to exactly this. */
export interface FrameSize {
  width: number;
  height: number;
}

// Cuts a byte stream of packed raw frames (ffmpeg's stdout) into whole frames, whatever the pipe's
// chunk boundaries. Each frame gets a buffer of its own, so it can be transferred to a worker.

export class RawFrameReader {
  private frame: Uint8Array;
  private filled = 0;

  constructor(
    readonly frameBytes: number,
    private readonly onFrame: (frame: Uint8Array) => void,
  ) {
    this.frame = new Uint8Array(frameBytes);
  }

  push(chunk: Uint8Array): void {
    let pos = 0;
    while (pos < chunk.length) {
      const n = Math.min(this.frameBytes - this.filled, chunk.length - pos);
      this.frame.set(chunk.subarray(pos, pos + n), this.filled);
      this.filled += n;
      pos += n;
      if (this.filled === this.frameBytes) {
        const done = this.frame;
        this.frame = new Uint8Array(this.frameBytes);
        this.filled = 0;
        this.onFrame(done);
      }
    }
  }
}

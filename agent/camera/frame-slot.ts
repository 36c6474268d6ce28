// Latest frame wins: one slot per camera between the camera and inference. When inference is
// behind, a new frame replaces the one waiting (counted as dropped) instead of queueing, so
// results always describe the present and memory stays bounded.

export class FrameSlot<T> {
  private item: T | undefined;
  private waiters: (() => void)[] = [];
  private putCount = 0;
  private dropCount = 0;

  /** Stores `item`, replacing (and counting as dropped) one that nobody took. */
  put(item: T): void {
    this.putCount++;
    if (this.item !== undefined) this.dropCount++;
    this.item = item;
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** The waiting item, removing it; undefined when empty. */
  tryTake(): T | undefined {
    const item = this.item;
    this.item = undefined;
    return item;
  }

  /** Resolves once an item is waiting (without taking it): for waiting on several slots at once. */
  whenReady(): Promise<void> {
    return this.item !== undefined ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve));
  }

  /** The newest item, waiting for one when empty. */
  async take(): Promise<T> {
    for (;;) {
      const item = this.tryTake();
      if (item !== undefined) return item;
      await this.whenReady();
    }
  }

  /** Items put so far. */
  get received(): number {
    return this.putCount;
  }

  /** Items replaced before anyone took them. */
  get dropped(): number {
    return this.dropCount;
  }
}

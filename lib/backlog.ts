/**
 * The JavaScript backlog: operations the ring could not hand to the kernel
 * yet (no room under the in-flight cap, or no free SQE), kept in submission
 * order until completions free room.
 * @internal
 */
import type { Bytes } from './native';

/** An operation that could not go to the kernel yet. @internal */
export interface Backlogged {
  /** A copy of the submission record. */
  rec: Float64Array;
  /** Its slot, or -1 for the ring's own cancel requests. */
  slot: number;
  /** The slot's generation when queued (a settled slot's entry is skipped). */
  gen: number;
  b1: Bytes | undefined;
  b2: Bytes | undefined;
  b3: Bytes | undefined;
  /** SQEs in this link chain still to come after this one. */
  chain: number;
}

/** A FIFO of {@link Backlogged} entries with O(1) amortised push and shift. @internal */
export class Backlog {
  #items: Backlogged[] = [];
  #head = 0;

  /** Entries waiting. */
  get size(): number {
    return this.#items.length - this.#head;
  }

  /** Appends an entry. */
  push(b: Backlogged): void {
    this.#items.push(b);
  }

  /** The oldest entry, or undefined when empty. */
  peek(): Backlogged | undefined {
    return this.#head < this.#items.length ? this.#items[this.#head] : undefined;
  }

  /** Drops the oldest entry. */
  shift(): void {
    this.#head++;
    if (this.#head === this.#items.length) {
      this.#items.length = 0;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items.splice(0, this.#head);
      this.#head = 0;
    }
  }

  /** Empties the queue and returns what it held, oldest first. */
  takeAll(): Backlogged[] {
    const out = this.#items.slice(this.#head);
    this.#items = [];
    this.#head = 0;
    return out;
  }
}

/** Pending callers keyed by log index, released in index order. */
export class Waiters<W> {
  private readonly byIndex = new Map<number, W>();

  size(): number {
    return this.byIndex.size;
  }

  set(index: number, waiter: W): void {
    this.byIndex.set(index, waiter);
  }

  take(index: number): W | undefined {
    const waiter = this.byIndex.get(index);
    if (waiter !== undefined) this.byIndex.delete(index);
    return waiter;
  }

  /** Removes and returns every waiter at an index <= `index`, in index order. */
  takeUpTo(index: number): [number, W][] {
    const taken = [...this.byIndex].filter(([i]) => i <= index).sort((a, b) => a[0] - b[0]);
    for (const [i] of taken) this.byIndex.delete(i);
    return taken;
  }
}

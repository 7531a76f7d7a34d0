/**
 * Captures a stream's bytes within a bound: the first `max/2` bytes and the last `max/2` bytes are
 * kept, the middle is dropped and replaced by a marker. A chatty command cannot exhaust memory,
 * and both its first lines and its final error stay visible.
 */
export class BoundedOutput {
  readonly #headMax: number;
  readonly #tailMax: number;
  #head: Buffer[] = [];
  #headLen = 0;
  #tail: Buffer = Buffer.alloc(0);
  #total = 0;

  constructor(maxBytes: number) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 2) throw new RangeError(`maxBytes must be an integer >= 2, got ${maxBytes}`);
    this.#headMax = Math.floor(maxBytes / 2);
    this.#tailMax = maxBytes - this.#headMax;
  }

  push(chunk: Buffer): void {
    this.#total += chunk.length;
    let rest = chunk;
    if (this.#headLen < this.#headMax) {
      const take = Math.min(this.#headMax - this.#headLen, rest.length);
      this.#head.push(rest.subarray(0, take));
      this.#headLen += take;
      rest = rest.subarray(take);
    }
    if (rest.length === 0) return;
    const joined = Buffer.concat([this.#tail, rest]);
    this.#tail = joined.length > this.#tailMax ? Buffer.from(joined.subarray(joined.length - this.#tailMax)) : joined;
  }

  /** Total bytes seen, kept or not. */
  get totalBytes(): number {
    return this.#total;
  }

  get truncated(): boolean {
    return this.#total > this.#headLen + this.#tail.length;
  }

  text(): string {
    const headBuf = Buffer.concat(this.#head);
    // Decode untruncated output in one piece: the head/tail boundary may split a UTF-8 sequence.
    if (!this.truncated) return Buffer.concat([headBuf, this.#tail]).toString('utf8');
    const head = headBuf.toString('utf8');
    const tail = this.#tail.toString('utf8');
    const dropped = this.#total - this.#headLen - this.#tail.length;
    return `${head}\n[... ${dropped} bytes dropped ...]\n${tail}`;
  }
}

/** The last `maxChars` characters of `text`, for error messages. */
export function tailOf(text: string, maxChars = 2000): string {
  const t = text.trimEnd();
  return t.length <= maxChars ? t : `...${t.slice(t.length - maxChars)}`;
}

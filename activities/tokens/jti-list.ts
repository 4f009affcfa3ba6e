/**
 * A list of jtis held as bytes: every id followed by '\n' in one Buffer, with the
 * offset after each. A million ids are ~33 MB and one typed array instead of a
 * million strings; the deny-list writer copies each id's bytes straight into the
 * commands it sends.
 */

const NL = 0x0a;

export class JtiList {
  constructor(
    /** Ids as listed, each followed by '\n'. */
    readonly data: Buffer,
    /** ends[i]: offset just past id i's '\n'. */
    readonly ends: Uint32Array,
    readonly count: number,
    /** Identifies the input (inline ids + file bytes): a resume only trusts progress recorded for the same input. */
    readonly fingerprint: string,
  ) {}

  /** Where id i starts in `data`. */
  start(i: number): number {
    return i === 0 ? 0 : (this.ends[i - 1] as number);
  }

  /** Id i as a string. */
  id(i: number): string {
    return this.data.toString('latin1', this.start(i), (this.ends[i] as number) - 1);
  }

  /** Every id as a string, for the consumers that need them all (the simplejwt query). */
  strings(): string[] {
    return this.count === 0 ? [] : this.data.toString('latin1', 0, this.start(this.count) - 1).split('\n');
  }
}

/** Appends ids to one growing buffer; file bytes are read into it and compacted in place. */
export class JtiListBuilder {
  buffer: Buffer;
  private ends: Uint32Array;
  count = 0;
  /** Bytes of finished ids (each with its '\n'). */
  length = 0;

  constructor(bytes: number, ids: number) {
    this.buffer = Buffer.allocUnsafe(Math.max(64, bytes));
    this.ends = new Uint32Array(Math.max(16, ids));
  }

  /** Capacity of at least `bytes`, keeping the first `keep` bytes. */
  ensure(bytes: number, keep: number): Buffer {
    if (bytes > this.buffer.length) {
      const next = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, bytes));
      this.buffer.copy(next, 0, 0, keep);
      this.buffer = next;
    }
    return this.buffer;
  }

  /** The id written at [length, end) is complete: terminate it (writes '\n' at `end`). */
  endId(end: number): void {
    if (this.count === this.ends.length) {
      const next = new Uint32Array(this.ends.length * 2);
      next.set(this.ends);
      this.ends = next;
    }
    this.buffer[end] = NL;
    this.length = end + 1;
    this.ends[this.count] = this.length;
    this.count += 1;
  }

  /** Append one id given as a string of printable ASCII (validated by the caller). */
  push(id: string): void {
    const buf = this.ensure(this.length + id.length + 1, this.length);
    this.endId(this.length + buf.write(id, this.length, 'latin1'));
  }

  build(fingerprint: string): JtiList {
    return new JtiList(this.buffer, this.ends, this.count, fingerprint);
  }
}

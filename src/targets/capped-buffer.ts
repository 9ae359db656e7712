/** Keeps the first `max` bytes of a stream; `push` answers false once anything had to be dropped. */
export class CappedBuffer {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private overflowed = false;

  constructor(private readonly max: number) {}

  push(chunk: Buffer): boolean {
    const room = this.max - this.size;
    if (chunk.length > room) {
      if (room > 0) this.chunks.push(chunk.subarray(0, room));
      this.size = this.max;
      this.overflowed = true;
    } else {
      this.chunks.push(chunk);
      this.size += chunk.length;
    }
    return !this.overflowed;
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

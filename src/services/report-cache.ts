/**
 * Serialised reports (JSON bytes) for requests that name only built-in architectures: those reports never change
 * while the process runs, so a repeated request costs a map lookup instead of an analysis and a
 * serialisation. Bounded, least recently used first out. Requests carrying a spec or a model file
 * are not cached (their bodies are the user's and may be large).
 */
export class ReportCache {
  private readonly entries = new Map<string, Uint8Array>();
  constructor(private readonly capacity = 128) {}

  /** The cache key for a body that names only zoo models, or undefined when it must not be cached. */
  static keyFor(body: Record<string, unknown>, variant = ''): string | undefined {
    const onlyZoo = (t: unknown) =>
      typeof t === 'string' ||
      (typeof t === 'object' &&
        t !== null &&
        typeof (t as { model?: unknown }).model === 'string' &&
        !('spec' in t));
    if (Array.isArray(body.compare) ? body.compare.every(onlyZoo) : onlyZoo(body))
      return `${variant}${JSON.stringify(body)}`;
    return undefined;
  }

  get(key: string): Uint8Array | undefined {
    const hit = this.entries.get(key);
    if (hit !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, hit);
    }
    return hit;
  }

  set(key: string, value: Uint8Array): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    const oldest = this.entries.keys().next();
    if (this.entries.size > this.capacity && !oldest.done) this.entries.delete(oldest.value);
  }
}

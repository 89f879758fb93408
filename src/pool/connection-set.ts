import type { PoolEntry } from './pool-entry.js';

/**
 * The pool's connections by state: idle (ready to lend, most recently used on top), reserved
 * (being probed or made fit after a lease: nobody may borrow them), leased; and the opens and
 * closes still under way. No timers and no SQLite here, only the bookkeeping that guarantees a
 * connection is lent to one caller at a time and that the pool never holds more than its size.
 */
export class ConnectionSet {
  readonly #all = new Set<PoolEntry>();
  readonly #idle: PoolEntry[] = [];
  #leased = 0;
  #reserved = 0;
  /** Connections being opened: they count against the pool size from the moment the open starts. */
  opening = 0;
  /** Connections being closed: they count until the close (a child process's exit) has finished. */
  closing = 0;
  /** Open connections close to their age or usage limit: they no longer count towards the minimum. */
  expiring = 0;

  /** Open connections in every state. */
  get size(): number {
    return this.#all.size;
  }

  /** What counts against `poolSize`: open connections, and opens and closes under way. */
  get capacityUsed(): number {
    return this.#all.size + this.opening + this.closing;
  }

  get idleCount(): number {
    return this.#idle.length;
  }

  get leasedCount(): number {
    return this.#leased;
  }

  get reservedCount(): number {
    return this.#reserved;
  }

  /** A connection that was opening joins the set, idle: it counted against the pool size all along. */
  arrive(entry: PoolEntry): void {
    this.opening--;
    this.add(entry);
  }

  /** Adds a new connection as idle, on top (under the expiring ones, see `#pushIdle`). */
  add(entry: PoolEntry): void {
    this.#all.add(entry);
    entry.state = 'idle';
    this.#pushIdle(entry);
  }

  /** The idle connections, most recently used first; a copy, safe to change the set while iterating. */
  idleSnapshot(): PoolEntry[] {
    return this.#idle.slice().reverse();
  }

  /** The most recently used idle connection, without taking it. */
  peekIdle(): PoolEntry | undefined {
    return this.#idle[this.#idle.length - 1];
  }

  lease(entry: PoolEntry): void {
    this.#leave(entry);
    entry.state = 'leased';
    this.#leased++;
  }

  reserve(entry: PoolEntry): void {
    this.#leave(entry);
    entry.state = 'reserved';
    this.#reserved++;
  }

  /** Puts a leased or reserved connection back on top of the idle stack (under the expiring ones). */
  makeIdle(entry: PoolEntry): void {
    this.#leave(entry);
    entry.state = 'idle';
    this.#pushIdle(entry);
  }

  /**
   * On top, where the fast path lends from, except above a connection near its limit: those stay
   * on top, so that they serve their last uses before anything else (and retire) while their
   * successors, opened ahead of need, wait under them. Otherwise a successor that arrived, or came
   * back from a monitoring probe, would serve instead, and the old connection would sit idle at
   * 90% of its limit, holding a place in the pool, until it went stale.
   */
  #pushIdle(entry: PoolEntry): void {
    const idle = this.#idle;
    let at = idle.length;
    if (!entry.expiring) while (at > 0 && (idle[at - 1] as PoolEntry).expiring) at--;
    if (at === idle.length) idle.push(entry);
    else idle.splice(at, 0, entry);
  }

  /** The connection will soon be retired: its successor may be opened now, ahead of need. */
  markExpiring(entry: PoolEntry): void {
    if (entry.expiring) return;
    entry.expiring = true;
    this.expiring++;
  }

  /** Forgets a connection (it is being closed). */
  remove(entry: PoolEntry): void {
    if (entry.expiring && entry.state !== 'closed') this.expiring--;
    this.#leave(entry);
    entry.state = 'closed';
    this.#all.delete(entry);
  }

  values(): IterableIterator<PoolEntry> {
    return this.#all.values();
  }

  inState(state: PoolEntry['state']): PoolEntry[] {
    return [...this.#all].filter((entry) => entry.state === state);
  }

  #leave(entry: PoolEntry): void {
    switch (entry.state) {
      case 'idle': {
        // The hot path takes the top of the stack; anything else is a rare search.
        if (this.#idle[this.#idle.length - 1] === entry) this.#idle.pop();
        else {
          const index = this.#idle.lastIndexOf(entry);
          if (index >= 0) this.#idle.splice(index, 1);
        }
        break;
      }
      case 'leased':
        this.#leased--;
        break;
      case 'reserved':
        this.#reserved--;
        break;
      case 'opening':
      case 'closed':
        break;
    }
  }
}

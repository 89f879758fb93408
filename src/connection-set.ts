import type { Database } from 'better-sqlite3';
import type { PooledConnection } from './pooled-connection.js';

/**
 * The pool's connections by state: idle (ready to lend, most recently used on top), reserved
 * (being probed: nobody may borrow them), and leased. No timers and no SQLite here, only the
 * bookkeeping that guarantees a connection is lent to one caller at a time.
 */
export class ConnectionSet {
  readonly #all = new Map<object, PooledConnection>();
  readonly #idle: PooledConnection[] = [];
  #leased = 0;
  #reserved = 0;

  /** Open connections in every state. */
  get size(): number {
    return this.#all.size;
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

  /** Adds a new connection as idle. */
  add(connection: PooledConnection): void {
    this.#all.set(connection.key, connection);
    connection.state = 'idle';
    this.#idle.push(connection);
  }

  /** The idle connections, most recently used first; a copy, safe to change the set while iterating. */
  idleSnapshot(): PooledConnection[] {
    return this.#idle.slice().reverse();
  }

  /** The most recently used idle connection, without taking it. */
  peekIdle(): PooledConnection | undefined {
    return this.#idle[this.#idle.length - 1];
  }

  lease(connection: PooledConnection): void {
    this.#leaveCurrentState(connection);
    connection.state = 'leased';
    this.#leased++;
  }

  reserve(connection: PooledConnection): void {
    this.#leaveCurrentState(connection);
    connection.state = 'reserved';
    this.#reserved++;
  }

  /** Puts a leased or reserved connection back on top of the idle stack. */
  makeIdle(connection: PooledConnection): void {
    this.#leaveCurrentState(connection);
    connection.state = 'idle';
    this.#idle.push(connection);
  }

  /** Forgets a connection (it is being closed). */
  remove(connection: PooledConnection): void {
    this.#leaveCurrentState(connection);
    connection.state = 'closed';
    this.#all.delete(connection.key);
  }

  find(key: Database | object): PooledConnection | undefined {
    return this.#all.get(key);
  }

  values(): IterableIterator<PooledConnection> {
    return this.#all.values();
  }

  leased(): PooledConnection[] {
    return [...this.#all.values()].filter((connection) => connection.state === 'leased');
  }

  #leaveCurrentState(connection: PooledConnection): void {
    switch (connection.state) {
      case 'idle': {
        // The hot path takes the top of the stack; anything else is a rare search.
        if (this.#idle[this.#idle.length - 1] === connection) {
          this.#idle.pop();
        } else {
          const index = this.#idle.lastIndexOf(connection);
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
      case 'closed':
        break;
    }
  }
}

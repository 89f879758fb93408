/**
 * One statement text's identity in a pool, created the first time the pool sees the text.
 * Telemetry stores what it derives from the text (summary, operation, sanitised text, attribute
 * sets) in `telemetryCache` the first time the statement runs, so no execution parses SQL again,
 * on any connection of the pool (a retired connection's successor included).
 */
export class StatementInfo {
  /** The SQL text as the caller wrote it. */
  readonly source: string;
  /**
   * `prepared`: a statement (parameters bound separately). `exec`: a raw script. `pragma`:
   * `PRAGMA <source>` through `pragma()`.
   */
  readonly kind: 'prepared' | 'exec' | 'pragma';
  /** Owned by the telemetry implementation; the pool never reads it. */
  telemetryCache: unknown = undefined;

  constructor(source: string, kind: StatementInfo['kind']) {
    this.source = source;
    this.kind = kind;
  }
}

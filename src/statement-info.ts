/**
 * One prepared statement's identity, created once when the statement is prepared. Telemetry
 * stores what it derives from the text (summary, operation, sanitised text, attributes) in
 * `telemetryCache` the first time the statement runs, so no execution parses SQL again.
 */
export class StatementInfo {
  /** The SQL text as the caller wrote it. */
  readonly source: string;
  /**
   * `prepared`: parameterised, safe to report as is. `exec`: raw text that may hold literals,
   * reported only sanitised. `pragma`: `PRAGMA <source>`.
   */
  readonly kind: 'prepared' | 'exec' | 'pragma';
  /** Owned by the telemetry implementation; the pool never reads it. */
  telemetryCache: unknown = undefined;

  constructor(source: string, kind: StatementInfo['kind']) {
    this.source = source;
    this.kind = kind;
  }
}

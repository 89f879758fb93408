/**
 * The files of the fresh consumer project the pack test installs the tarball into: a quick start
 * for `require()` and one for `import`, strict TypeScript consumers (ES module and CommonJS), one
 * with a deliberate type error, a setup consumer, and an app for the register entry.
 */

/** What a quick start does, in either module system: a pool on a file, a statement, a lease, stats, close. */
const QUICK_START_BODY = `
async function main(dir) {
  const db = new DatabaseManager({
    databaseUrl: 'sqlite:///' + path.relative(process.cwd(), path.join(dir, 'app.db')),
    poolSize: 2,
    healthCheckConfig: new HealthCheckConfig({ timeoutMs: 2000 }),
  });
  await db.initialize();
  await db.run('CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL)');
  await db.run('INSERT INTO users (name) VALUES (?)', ['Ada']);
  const lease = await db.getConnection();
  let row;
  try {
    row = lease.connection.prepare('SELECT name FROM users WHERE id = ?').get(1);
  } finally {
    lease.release();
  }
  const stats = await db.getConnectionStats();
  await db.close();
  console.log(JSON.stringify({ name: row.name, initialized: stats.initialized, maxPoolSize: stats.maxPoolSize }));
}
`;

export const QUICK_START_CJS = `'use strict';
const path = require('node:path');
const fs = require('node:fs');
const os = require('node:os');
const { DatabaseManager, HealthCheckConfig } = require('otel-sqlite-pool');
${QUICK_START_BODY}
main(fs.mkdtempSync(path.join(os.tmpdir(), 'consumer-cjs-')));
`;

export const QUICK_START_ESM = `import path from 'node:path';
import fs from 'node:fs';
import os from 'node:os';
import { DatabaseManager, HealthCheckConfig } from 'otel-sqlite-pool';
${QUICK_START_BODY}
await main(fs.mkdtempSync(path.join(os.tmpdir(), 'consumer-esm-')));
`;

/** A strict tsconfig: the settings a careful consumer uses, and no skipping of library checks. */
export function tsconfig(files: string[]): string {
  return JSON.stringify(
    {
      compilerOptions: {
        strict: true,
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'es2022',
        lib: ['es2023', 'esnext.disposable'],
        types: ['node'],
        skipLibCheck: false,
        noEmit: true,
      },
      files,
    },
    null,
    2,
  );
}

const TYPED_USE = `
const db = new DatabaseManager({ filename: ':memory:', poolSize: 1, healthCheckConfig: new HealthCheckConfig({ timeoutMs: 1000 }) });
export async function use(): Promise<string> {
  const lease: Lease = await db.getConnection();
  const row = lease.connection.prepare('SELECT 1 AS one').get() as { one: number };
  const pragma: unknown = lease.connection.pragma('journal_mode', { simple: true });
  lease.release();
  return String(row.one) + String(pragma);
}
export function isConfigError(error: unknown): boolean {
  return error instanceof ConfigurationError && error.code === 'SQLITE_POOL_INVALID_CONFIG';
}
`;

export const TYPED_ESM = `import { ConfigurationError, DatabaseManager, HealthCheckConfig, type Lease } from 'otel-sqlite-pool';
${TYPED_USE}`;

export const TYPED_CJS = `import { ConfigurationError, DatabaseManager, HealthCheckConfig, type Lease } from 'otel-sqlite-pool';
${TYPED_USE}`;

/** The same use with a misspelt better-sqlite3 method: must be TS2339, not silently `any`. */
export const TYPE_ERROR = `import { DatabaseManager } from 'otel-sqlite-pool';
const db = new DatabaseManager({ filename: ':memory:' });
export async function misuse(): Promise<void> {
  const lease = await db.getConnection();
  lease.connection.thisMethodDoesNotExist();
  lease.release();
}
`;

/** The setup entry, typed: metricsUrl is a string unless prometheus is false. */
export const TYPED_SETUP = `import { startTelemetry, MissingSdkError } from 'otel-sqlite-pool/setup';
const telemetry = await startTelemetry({ serviceName: 'consumer', prometheus: { host: '127.0.0.1', port: 0 } });
const response = await fetch(telemetry.metricsUrl);
const url: string = telemetry.metricsUrl;
console.log(JSON.stringify({ url, status: response.status, scraped: (await response.text()).includes('target_info'), error: MissingSdkError.name }));
await telemetry.shutdown();
`;

/** For `node --import otel-sqlite-pool/register`: a pool and one statement, then it ends by itself. */
export const REGISTER_APP_ESM = `import { DatabaseManager } from 'otel-sqlite-pool';
const db = new DatabaseManager({ filename: ':memory:', poolSize: 1 });
await db.get('SELECT 1 AS one');
await db.close();
`;

export const REGISTER_APP_CJS = `'use strict';
const { DatabaseManager } = require('otel-sqlite-pool');
const db = new DatabaseManager({ filename: ':memory:', poolSize: 1 });
db.get('SELECT 1 AS one').then(() => db.close());
`;

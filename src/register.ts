/**
 * `otel-sqlite-pool/register`: telemetry with no code change in the app.
 *
 *     node --import otel-sqlite-pool/register app.js
 *
 * Starts `@opentelemetry/sdk-node` from the standard `OTEL_*` variables (exporters, endpoints,
 * service name, resource, sampler, propagators: the SDK's defaults, as
 * `@opentelemetry/auto-instrumentations-node/register` does) with the pool instrumentation, before
 * the app's first line runs. It flushes and shuts the SDK down when the event loop empties, and on
 * SIGTERM and SIGINT. It has no top-level await, so `--require` and `require()` load it too.
 */
import { startRegisteredSdk } from './setup/registered-sdk.js';

startRegisteredSdk();

import { ProxyTracerProvider, trace, type Tracer, type TracerProvider } from '@opentelemetry/api';
import * as sc from './semconv.js';

/**
 * The tracer spans start on, or none while nothing could record them. From the global provider
 * before an SDK registered (a `ProxyTracerProvider` without a delegate), every span would be a
 * no-op object made, started and ended on each statement: `current()` answers `undefined`
 * instead, and the pool records its metrics without one. It asks the proxy again on each call (one
 * property read inside the API), so spans begin with the first statement after an SDK registers,
 * on the SDK's own tracer, with no proxy in between from then on. Built on the global provider
 * (`followGlobal`), it asks the global provider of the moment: `trace.disable()` replaces the
 * API's proxy, and an SDK registered after that registers on the new one.
 */
export class LiveTracer {
  #tracer: Tracer | undefined;
  #proxy: ProxyTracerProvider | undefined;
  readonly #name: string;
  readonly #version: string;
  readonly #followGlobal: boolean;

  constructor(provider: TracerProvider, tracer: Tracer, name: string, version: string, followGlobal = false) {
    this.#name = name;
    this.#version = version;
    this.#followGlobal = followGlobal;
    if (provider instanceof ProxyTracerProvider) this.#proxy = provider;
    else this.#tracer = tracer;
    this.current();
  }

  current(): Tracer | undefined {
    let proxy = this.#proxy;
    if (proxy === undefined) return this.#tracer;
    if (this.#followGlobal) {
      const global = trace.getTracerProvider();
      if (!(global instanceof ProxyTracerProvider)) return this.#adopt(global.getTracer(this.#name, this.#version, { schemaUrl: sc.SCHEMA_URL }));
      proxy = global;
    }
    const delegate = proxy.getDelegateTracer(this.#name, this.#version, { schemaUrl: sc.SCHEMA_URL });
    if (delegate === undefined) return undefined;
    return this.#adopt(delegate);
  }

  #adopt(tracer: Tracer): Tracer {
    this.#tracer = tracer;
    this.#proxy = undefined;
    return tracer;
  }
}

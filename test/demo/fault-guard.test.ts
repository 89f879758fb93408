/** When the demo's fault routes answer: loopback by default, beyond it only with DEMO_FAULTS=1. */
import { describe, expect, it } from 'vitest';
import { faultRoutes, isLoopbackAddress } from '../../examples/demo/fault-guard.js';
import { parseDemoOptions } from '../../examples/demo/options.js';

describe('fault guard', () => {
  it('knows loopback addresses, and that a wildcard bind is not one', () => {
    for (const address of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) expect(isLoopbackAddress(address), address).toBe(true);
    for (const address of ['0.0.0.0', '::', '192.168.1.20', '10.0.0.1', 'fe80::1', '::ffff:10.0.0.1']) expect(isLoopbackAddress(address), address).toBe(false);
  });

  it('is on for loopback, off beyond it, and the switch wins either way', () => {
    expect(faultRoutes(undefined, '127.0.0.1')).toEqual({ enabled: true, refusal: undefined });
    const exposed = faultRoutes(undefined, '0.0.0.0');
    expect(exposed.enabled).toBe(false);
    expect(exposed.refusal).toContain('0.0.0.0');
    expect(exposed.refusal).toContain('DEMO_FAULTS=1');
    expect(faultRoutes(true, '0.0.0.0').enabled).toBe(true);
    expect(faultRoutes(false, '127.0.0.1')).toMatchObject({ enabled: false, refusal: expect.stringContaining('DEMO_FAULTS=0') });
  });

  it('reads DEMO_FAULTS and --faults / --no-faults, flags first', () => {
    expect(parseDemoOptions([], {}).faults).toBeUndefined();
    expect(parseDemoOptions([], { DEMO_FAULTS: '1' }).faults).toBe(true);
    expect(parseDemoOptions([], { DEMO_FAULTS: 'off' }).faults).toBe(false);
    expect(parseDemoOptions(['--no-faults'], { DEMO_FAULTS: '1' }).faults).toBe(false);
    expect(parseDemoOptions(['--faults'], {}).faults).toBe(true);
    expect(() => parseDemoOptions([], { DEMO_FAULTS: 'maybe' })).toThrow(/Invalid DEMO_FAULTS: "maybe"/);
  });
});

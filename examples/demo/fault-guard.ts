/**
 * Whether the demo's fault routes answer. Fault injection deletes and locks the database: a test
 * tool, on for the default loopback demo, and off whenever the service listens beyond loopback
 * (HOST=0.0.0.0, a LAN address) unless DEMO_FAULTS=1 (or --faults) enables it explicitly.
 */
import { BlockList, isIPv6 } from 'node:net';

/** The switch the README, the banner and the 403 name. */
export const FAULTS_SWITCH = 'DEMO_FAULTS';

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');
loopback.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');

/** True for 127.0.0.0/8, ::1 and IPv4-mapped loopback; false for wildcards (0.0.0.0, ::) and every other address. */
export function isLoopbackAddress(address: string): boolean {
  return loopback.check(address, isIPv6(address) ? 'ipv6' : 'ipv4');
}

export interface FaultRoutes {
  readonly enabled: boolean;
  /** Why they are off, for the 403 and the banner (undefined when on). */
  readonly refusal: string | undefined;
}

/**
 * `explicit` is DEMO_FAULTS / --faults / --no-faults when given; `boundAddress` is the address the
 * server really listens on (a host name such as localhost has been resolved by then).
 */
export function faultRoutes(explicit: boolean | undefined, boundAddress: string): FaultRoutes {
  if (explicit === true) return { enabled: true, refusal: undefined };
  if (explicit === false) return { enabled: false, refusal: `Fault injection is off (${FAULTS_SWITCH}=0). Start the demo with ${FAULTS_SWITCH}=1 to enable it.` };
  if (isLoopbackAddress(boundAddress)) return { enabled: true, refusal: undefined };
  return {
    enabled: false,
    refusal:
      `Fault injection is off because the service listens on ${boundAddress}, beyond loopback: anyone who reaches the port could ` +
      `delete or lock the database. Start the demo with ${FAULTS_SWITCH}=1 (or --faults) to enable it anyway.`,
  };
}

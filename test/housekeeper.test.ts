import { describe, expect, test, vi } from 'vitest';
import { DatabaseManager } from '../src/index.js';
import { Housekeeper } from '../src/pool/housekeeper.js';
import { advance, tempDbPath, track, useFakeClock } from './helpers/temp-db.js';

describe('Housekeeper: one timer for every task', () => {
  test('runs tasks when due, earliest first, with one timer armed', () => {
    useFakeClock();
    const keeper = new Housekeeper();
    const ran: string[] = [];
    keeper.schedule('b', 200, () => ran.push('b'));
    keeper.schedule('a', 100, () => ran.push('a'));
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(100);
    expect(ran).toEqual(['a']);
    vi.advanceTimersByTime(100);
    expect(ran).toEqual(['a', 'b']);
    expect(vi.getTimerCount()).toBe(0);
  });

  test('rescheduling a name replaces it; cancel and stop remove tasks', () => {
    useFakeClock();
    const keeper = new Housekeeper();
    const ran: string[] = [];
    keeper.schedule('x', 100, () => ran.push('x1'));
    keeper.schedule('x', 300, () => ran.push('x2'));
    keeper.schedule('y', 50, () => ran.push('y'));
    keeper.cancel('y');
    expect(keeper.has('y')).toBe(false);
    vi.advanceTimersByTime(300);
    expect(ran).toEqual(['x2']);
    keeper.schedule('z', 10, () => ran.push('z'));
    keeper.stop();
    keeper.schedule('after-stop', 10, () => ran.push('after-stop'));
    vi.advanceTimersByTime(100);
    expect(ran).toEqual(['x2']);
    expect(vi.getTimerCount()).toBe(0);
  });

  test('a task may reschedule itself', () => {
    useFakeClock();
    const keeper = new Housekeeper();
    let runs = 0;
    const tick = (): void => {
      runs++;
      if (runs < 3) keeper.schedule('tick', 100, tick);
    };
    keeper.schedule('tick', 100, tick);
    vi.advanceTimersByTime(1000);
    expect(runs).toBe(3);
  });

  test('a delay beyond the 32-bit timer limit does not spin a 1 ms timer (Node clamps such delays to 1 ms)', () => {
    useFakeClock();
    const setTimeoutSpy = vi.spyOn(globalThis, 'setTimeout');
    const keeper = new Housekeeper();
    let ran = false;
    keeper.schedule('far', 3e9, () => {
      ran = true;
    });
    vi.advanceTimersByTime(1000);
    expect(setTimeoutSpy.mock.calls.length).toBeLessThanOrEqual(1);
    vi.advanceTimersByTime(3e9 - 1001);
    expect(ran).toBe(false);
    vi.advanceTimersByTime(1);
    expect(ran).toBe(true);
    expect(setTimeoutSpy.mock.calls.length).toBeLessThanOrEqual(3);
    setTimeoutSpy.mockRestore();
  });

  test('a pool waiting with a very long acquireTimeoutMs does not spin either', async () => {
    useFakeClock();
    const db = track(new DatabaseManager({ filename: tempDbPath(), poolSize: 1, healthCheckConfig: { minHealthyConnections: 1, enabled: false }, acquireTimeoutMs: 1e10 }));
    const holder = await db.getConnection();
    const setTimeoutSpy = vi.spyOn(globalThis, 'setTimeout');
    const waiting = db.getConnection();
    await advance(1000);
    expect(setTimeoutSpy.mock.calls.length).toBeLessThanOrEqual(2);
    holder.release();
    (await waiting).release();
    setTimeoutSpy.mockRestore();
  });
});

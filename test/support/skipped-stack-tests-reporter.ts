/**
 * A vitest reporter that repeats, after the summary, how many stack tests were skipped because
 * promtool or prometheus is missing (see stack-tools.ts), so a skip never passes unnoticed.
 */
import type { Reporter, TestModule } from 'vitest/node';
import { SKIP_STACK_TESTS, missingStackTools, skipNotice } from './stack-tools.js';

export default class SkippedStackTestsReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    if (!SKIP_STACK_TESTS) return;
    let skipped = 0;
    for (const module of testModules) {
      if (!/[\\/]test[\\/]stack[\\/]/.test(module.moduleId)) continue;
      for (const _test of module.children.allTests('skipped')) skipped++;
    }
    if (skipped > 0) process.stdout.write(`\n\u001b[1;33m${skipNotice(missingStackTools(), skipped)}\u001b[0m\n\n`);
  }
}

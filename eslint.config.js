// ESLint with typescript-eslint's type-aware rules (run by `npm run lint`, part of `npm test`).
// Base: recommendedTypeChecked, which has no-floating-promises, no-misused-promises and
// await-thenable; the few changes below say why.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['dist/', 'coverage/', 'node_modules/', 'bench/results/'] },
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // Async methods without an await are deliberate here: one promise-returning API whatever
      // the mode (a thread-mode answer is ready at once, a worker-mode one is not).
      '@typescript-eslint/require-await': 'off',
      // The pool wraps better-sqlite3's methods and calls them with .call/.apply on purpose (to
      // spread bound parameters, or to keep `this` a Statement); the rule cannot see that.
      '@typescript-eslint/unbound-method': 'off',
      // A `let` read by a closure before its one assignment (a callback that needs the object being built) cannot be const.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // Re-rejecting a caught error passes on whatever was thrown, as it was thrown.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      // `self` keeps the wrapper's state while `this` is the wrapped statement.
      '@typescript-eslint/no-this-alias': ['error', { allowedNames: ['self'] }],
      // A leading underscore marks a binding kept on purpose (destructuring one value out, a callback's position).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
    },
  },
  {
    // Asymmetric matchers (expect.any, expect.stringContaining) are typed `any` by vitest.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-unsafe-assignment': 'off' },
  },
);

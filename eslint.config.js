// Lint rules. The one that matters most keeps src/raft pure: the consensus core may not
// import Node modules or touch clocks, timers, randomness, promises or the process.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const impureGlobals = [
  'Date', 'setTimeout', 'setInterval', 'setImmediate', 'clearTimeout', 'clearInterval',
  'clearImmediate', 'queueMicrotask', 'process', 'performance', 'Promise', 'require',
  'fetch', 'console', 'Buffer',
].map((name) => ({ name, message: 'src/raft is a pure state machine: the driver owns time, I/O and randomness.' }));

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'coverage/**', 'reports/**', '.stryker-tmp*/**', 'out/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { console: 'readonly', process: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', URL: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    files: ['src/raft/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['node:*', 'fs', 'net', 'os', 'child_process', 'timers', 'crypto', 'path', 'http'], message: 'src/raft may not import Node modules.' }] }],
      'no-restricted-globals': ['error', ...impureGlobals],
      'no-restricted-properties': ['error',
        { object: 'Math', property: 'random', message: 'Use the seeded PRNG passed into the core.' },
        { object: 'globalThis', message: 'src/raft may not reach for globals.' },
      ],
      'no-restricted-syntax': ['error',
        { selector: 'FunctionDeclaration[async=true], ArrowFunctionExpression[async=true], FunctionExpression[async=true]', message: 'src/raft is synchronous: no async functions.' },
        { selector: 'AwaitExpression', message: 'src/raft is synchronous: no await.' },
      ],
    },
  },
);

// eslint flat config: typescript-eslint's type-checked recommended rules (types from tsconfig.json through the
// project service) plus the few the house adds (shared/design/architecture.md §7, after tuf-js). Layout is
// prettier's (`npm run format`), not eslint's. A rule is turned off only where it is noise for this codebase,
// with the reason beside it.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  {
    // Build output, bundles, generated models, recorded results and fixtures: none of it is source.
    ignores: [
      'node_modules/',
      'dist/',
      'coverage/',
      'bundles/',
      'manifests/',
      '.whl/',
      '.gl/',
      '.carry/',
      'bench/results/',
      'test/fixtures/',
      // dependency-cruiser's CommonJS config: not TypeScript's to check, and its own tool validates it.
      '.dependency-cruiser.cjs',
    ],
  },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        // Files outside tsconfig.json's include (the config files at the top, bin/) get a default project.
        projectService: { allowDefaultProject: ['*.js', '*.ts', 'bin/*.js'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // The house's additions: an async function with nothing to await is a sync one; a switch over a union
      // names every member (a `default` that throws `never` counts); type-only imports say so.
      '@typescript-eslint/require-await': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      // The house marks a deliberately unused name with a leading underscore: a parameter an interface requires
      // (`_ctx`), a field dropped by destructuring (`{ digest: _d, ...rest }`).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // Off: every name from a bundle, manifest, index or server is escaped before it is printed (a house rule),
      // so regexes over control characters (\x00-\x1f) are the point of those lines, not a slip.
      'no-control-regex': 'off',
      // A case holding only a comment (why two values mean the same) falls through on purpose.
      'no-fallthrough': ['error', { allowEmptyCase: true }],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      // Off in tests and benches: they read the CLI's --json output and servers' bodies with JSON.parse (any) and
      // assert on fields with expect; typing every shape first would be noise, and expect is the check.
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // Off in tests: stubs of async interfaces (a check's run, a hook, a fake server's handler) are async
      // functions that answer at once, which is what they stand in for.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    files: ['bin/*.js'],
    // The launcher runs on Node; the globals it uses (tsc does not check this file).
    languageOptions: { globals: { URL: 'readonly', process: 'readonly', console: 'readonly' } },
  },
);

// Lint: typescript-eslint's type-aware recommended rules, plus house rules: time is read only
// through core/clock.ts, the environment only in src/config.ts, the client's address only in
// src/api/client-address.ts, and the web app renders no HTML and stores the token nowhere but sessionStorage.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const onlyConfigReadsEnv = {
  selector: "MemberExpression[object.name='process'][property.name='env']",
  message: 'Only src/config.ts reads the environment.',
};
// One derivation of who is calling, so a throttle cannot count by an address a client chose.
const onlyClientAddressReadsSockets = ['ip', 'ips', 'remoteAddress'].map((name) => ({
  selector: `MemberExpression[property.name='${name}']`,
  message: 'Read the client address as request.clientAddress (src/api/client-address.ts).',
}));

export default tseslint.config(
  { ignores: ['dist/', 'packages/*/dist/', 'node_modules/', 'data/', 'bench/results/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      // node:test's describe/test return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'test', 'it', 'suite'] }] },
      ],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      eqeqeq: ['error', 'always'],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/core/clock.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'Read time through a Clock (src/core/clock.ts).' },
        { object: 'performance', property: 'now', message: 'Read time through a Clock or `monotonic` (src/core/clock.ts).' },
      ],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/config.ts'],
    rules: { 'no-restricted-syntax': ['error', onlyConfigReadsEnv, ...onlyClientAddressReadsSockets] },
  },
  { files: ['src/api/client-address.ts'], rules: { 'no-restricted-syntax': ['error', onlyConfigReadsEnv] } },
  // The web app renders text, never HTML, and keeps the token in sessionStorage alone (web/src/session.ts).
  {
    files: ['web/**/*.ts', 'web/**/*.tsx'],
    rules: {
      'no-restricted-syntax': [
        'error',
        { selector: "JSXAttribute[name.name='dangerouslySetInnerHTML']", message: 'Render text: the CSP and the token depend on it.' },
        { selector: "Identifier[name='localStorage']", message: 'The token lives in sessionStorage only (web/src/session.ts).' },
        { selector: "MemberExpression[property.name='cookie']", message: 'The web app sets no cookie.' },
        { selector: "MemberExpression[property.name='innerHTML']", message: 'Render text: the CSP and the token depend on it.' },
      ],
    },
  },
  { files: ['**/*.cjs'], rules: { '@typescript-eslint/no-require-imports': 'off' } },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      parserOptions: { projectService: false, program: null, project: false },
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        require: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        URL: 'readonly',
      },
    },
  },
);

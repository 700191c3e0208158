import path from 'node:path';
import { fileURLToPath } from 'node:url';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const ROOT = path.dirname(fileURLToPath(import.meta.url));

/** `apps/<name>`, `libs/<name>`, `tools/<name>`, or the top folder (test, bench, infra). */
const areaOf = (file) => {
  const [top, name] = path.relative(ROOT, file).split(path.sep);
  return ['apps', 'libs', 'tools'].includes(top) && name ? `${top}/${name}` : top;
};

/**
 * The floors of the house: no app imports another app or a tool, no lib imports an app or a
 * tool, no tool imports an app; test/ and bench/ may start anything. A relative import is
 * resolved against the importing file, so `../../other-app/src/x` is caught at any depth;
 * `@carerelay/*` aliases name libs and are always allowed.
 */
const importBoundaries = {
  meta: {
    type: 'problem',
    messages: {
      crossing: '{{from}} must not import {{to}} (apps use libs; shared code goes to libs/)',
    },
    schema: [],
  },
  create(context) {
    const from = areaOf(context.filename);
    const [fromTop] = from.split('/');
    if (!['apps', 'libs', 'tools'].includes(fromTop)) return {};
    const check = (node, spec) => {
      if (typeof spec !== 'string' || !spec.startsWith('.')) return;
      const to = areaOf(path.resolve(path.dirname(context.filename), spec));
      const [toTop] = to.split('/');
      const crossing =
        (toTop === 'apps' && to !== from) || (toTop === 'tools' && fromTop !== 'tools');
      if (crossing) context.report({ node, messageId: 'crossing', data: { from, to } });
    };
    const fromSource = (node) => node.source && check(node, node.source.value);
    return {
      ImportDeclaration: fromSource,
      ExportNamedDeclaration: fromSource,
      ExportAllDeclaration: fromSource,
      ImportExpression: (node) => node.source.type === 'Literal' && check(node, node.source.value),
      CallExpression: (node) =>
        node.callee.type === 'Identifier' &&
        ['require'].includes(node.callee.name) &&
        node.arguments[0]?.type === 'Literal' &&
        check(node, node.arguments[0].value),
    };
  },
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.carerelay/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/no-explicit-any': 'warn',
      'no-console': 'off',
    },
  },
  {
    files: ['apps/**/*.{ts,js,mjs,cjs}', 'libs/**/*.{ts,js,mjs,cjs}', 'tools/**/*.{ts,js,mjs,cjs}'],
    plugins: { carerelay: { rules: { 'import-boundaries': importBoundaries } } },
    rules: { 'carerelay/import-boundaries': 'error' },
  },
  {
    files: ['**/*.mjs', '**/*.js', '**/*.cjs'],
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        require: 'readonly',
        module: 'writable',
        __dirname: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        URL: 'readonly',
        Buffer: 'readonly',
        fetch: 'readonly',
        AbortController: 'readonly',
      },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);

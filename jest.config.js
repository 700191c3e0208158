// One jest config for every tier: *.spec.ts (unit, pure logic), *.int-spec.ts (real Kafka and
// PostgreSQL), test/e2e/*.e2e-spec.ts (the network started as a user starts it),
// test/security/*.sec-spec.ts (attacks on started services), test/browser/*.browser-spec.ts
// (Chromium on a started network).
const { compilerOptions } = require('./tsconfig.json');

const moduleNameMapper = {};
for (const [alias, [target]] of Object.entries(compilerOptions.paths)) {
  moduleNameMapper[`^${alias}$`] = `<rootDir>/${target}`;
}

// ts-jest in transpile-only mode: fast, and type errors are tsc's job (npm run lint).
const tsJest = [
  'ts-jest',
  { isolatedModules: true, diagnostics: false, tsconfig: '<rootDir>/tsconfig.json' },
];

const tier = (displayName, testMatch, extra = {}) => ({
  displayName,
  rootDir: __dirname,
  testMatch,
  transform: { '^.+\\.ts$': tsJest },
  moduleNameMapper,
  testEnvironment: 'node',
  ...extra,
});

module.exports = {
  projects: [
    tier('unit', [
      '<rootDir>/apps/**/*.spec.ts',
      '<rootDir>/libs/**/*.spec.ts',
      '<rootDir>/tools/**/*.spec.ts',
      '<rootDir>/test/unit/**/*.spec.ts',
    ]),
    tier(
      'integration',
      [
        '<rootDir>/apps/**/*.int-spec.ts',
        '<rootDir>/libs/**/*.int-spec.ts',
        '<rootDir>/tools/**/*.int-spec.ts',
        '<rootDir>/test/integration/**/*.int-spec.ts',
      ],
      {
        globalSetup: '<rootDir>/libs/testing/src/global-setup.js',
      },
    ),
    tier('e2e', ['<rootDir>/test/e2e/**/*.e2e-spec.ts'], {
      globalSetup: '<rootDir>/libs/testing/src/global-setup.js',
    }),
    // Real Chromium (Debian's package) driving the web app on a started network.
    tier('browser', ['<rootDir>/test/browser/**/*.browser-spec.ts'], {
      globalSetup: '<rootDir>/libs/testing/src/global-setup.js',
    }),
    // An attacker's requests against started services: every refusal proven, nothing written.
    tier('security', ['<rootDir>/test/security/**/*.sec-spec.ts'], {
      globalSetup: '<rootDir>/libs/testing/src/global-setup.js',
    }),
  ],
};

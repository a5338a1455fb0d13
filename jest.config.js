/** @type {import('jest').Config} */
export default {
  testEnvironment: "node",
  extensionsToTreatAsEsm: [".ts"],
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  moduleNameMapper: { "^(\\.{1,2}/.*)\\.js$": "$1" },
  transform: {
    "^.+\\.ts$": ["ts-jest", { useESM: true, isolatedModules: true, diagnostics: false }],
  },
  // nock 15 uses Promise.withResolvers, which Node 20 lacks.
  setupFiles: ["<rootDir>/test/helpers/promise-with-resolvers.ts"],
  testTimeout: 120000,
  maxWorkers: 2,
};

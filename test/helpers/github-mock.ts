/**
 * The GitHub double (github-double.ts) for jest test files: the same exports, plus the hook that unhooks nock at
 * the end of each file.
 */
import { afterAll } from "@jest/globals";
import nock from "nock";

// Jest runs many test files in one worker, each with its own nock module instance, but they all patch the same
// global http/fetch. A file that ends with its nock still active leaves interceptors behind that answer the
// next file's requests ("unexpected request"). Every file that loads this helper unhooks its nock at the end.
afterAll(() => {
  nock.cleanAll();
  nock.restore();
});

export * from "./github-double.js";

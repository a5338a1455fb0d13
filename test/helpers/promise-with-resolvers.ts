/**
 * Node 20 lacks `Promise.withResolvers` (Node 22+ has it), and nock 15's interceptors
 * (@mswjs/interceptors) call it for every intercepted request, http and fetch alike: without it an
 * intercepted request fails with "Promise.withResolvers is not a function". Import this module
 * (for its side effect) in tests that use nock. It is a no-op where the method exists.
 */
interface Resolvers<T> {
  promise: Promise<T>;
  resolve: (value: T | PromiseLike<T>) => void;
  reject: (reason?: unknown) => void;
}

const PromiseCtor = Promise as unknown as { withResolvers?: <T>() => Resolvers<T> };

if (typeof PromiseCtor.withResolvers !== "function") {
  PromiseCtor.withResolvers = <T>(): Resolvers<T> => {
    let resolve!: Resolvers<T>["resolve"];
    let reject!: Resolvers<T>["reject"];
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

export {};

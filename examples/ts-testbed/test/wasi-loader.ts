// Node.js module hook for ts-testbed's unit tests: every `wasi:` import
// resolves to the mock WASI of wasi-mock.ts (registered by the tests).

type Next = (specifier: string, context: unknown) => Promise<unknown>;

export async function resolve(specifier: string, context: unknown, next: Next): Promise<unknown> {
  if (specifier.startsWith("wasi:")) {
    return { url: new URL("./wasi-mock.js", import.meta.url).href, shortCircuit: true };
  }
  return next(specifier, context);
}

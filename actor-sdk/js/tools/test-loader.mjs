// Node.js module hooks for actors' unit tests: resolves `@wapr/actor`,
// `@wapr/actor/testing` to this SDK's dist/, and every host import
// (`wapr:actor/<interface>@0.2.1`) to the in-process mock host
// (dist/testing/host.js). Registered by test-register.mjs.
import { pathToFileURL } from "node:url";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const dist = join(dirname(fileURLToPath(import.meta.url)), "..", "dist");
const map = {
  "@wapr/actor": join(dist, "index.js"),
  "@wapr/actor/testing": join(dist, "testing", "index.js"),
};

export async function resolve(specifier, context, next) {
  if (specifier.startsWith("wapr:actor/")) {
    return { url: pathToFileURL(join(dist, "testing", "host.js")).href, shortCircuit: true };
  }
  if (Object.hasOwn(map, specifier)) {
    return { url: pathToFileURL(map[specifier]).href, shortCircuit: true };
  }
  return next(specifier, context);
}

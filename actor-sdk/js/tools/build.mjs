#!/usr/bin/env node
// Builds one TypeScript/JavaScript actor into a wapr:actor@0.2.1 component:
//
//   node actor-sdk/js/tools/build.mjs <actor-dir> <out.wasm> [--work <dir>]
//
//   1. tsc -p <actor-dir>/tsconfig.json  → <work>/js (skipped for an actor
//      without tsconfig.json: its src/ is plain JavaScript)
//   2. rolldown bundles the entry module (src/index.ts → index.js) with the
//      SDK (actor-sdk/js/dist, built with `npm run build` first) and any
//      npm packages it imports → <work>/bundle.js; `wapr:*` and `wasi:*`
//      stay imports.
//   3. componentize-js 0.23 (SpiderMonkey/StarlingMonkey) makes the
//      component against actor-sdk/wit (world `actor`), with the WASI
//      features `stdio`, `random` and `clocks` (Date.now, Math.random and
//      console come from the host through WASI 0.2) and without `http` and
//      `fetch-event` (no wasi:http).
//
// An actor with a `wit/` directory is built against that instead: a WIT
// package with a world named `actor` that includes `wapr:actor/actor@0.2.1`
// and adds imports (e.g. WASI interfaces, which the module then imports as
// `wasi:cli/environment@0.2.12`), their packages under `wit/deps/`. The
// SDK's WIT is added to a copy of it as `deps/wapr-actor`, so the actor
// keeps no copy of the ABI (examples/ts-testbed).
//
// The entry module must `export const handler = exportActor(MyActor)`.
// Prints the timings of each step on stderr.

import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { cp, mkdir, rm, writeFile, copyFile, stat } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const sdk = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const wit = resolve(sdk, "..", "wit");

function usage(message) {
  console.error(`build.mjs: ${message}\nusage: node build.mjs <actor-dir> <out.wasm> [--work <dir>]`);
  process.exit(2);
}

const args = process.argv.slice(2);
let work;
const positional = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--work") work = args[++i];
  else positional.push(args[i]);
}
if (positional.length !== 2) usage("expected an actor directory and an output path");
const actorDir = resolve(positional[0]);
const out = resolve(positional[1]);
work = resolve(work ?? join(dirname(out), ".build", `${actorDir.split("/").pop()}`));

const t0 = performance.now();
const lap = (() => {
  let last = t0;
  return () => {
    const now = performance.now();
    const ms = now - last;
    last = now;
    return `${(ms / 1000).toFixed(1)} s`;
  };
})();

await rm(work, { recursive: true, force: true });
await mkdir(join(work, "js"), { recursive: true });

// 1. TypeScript → JavaScript.
let entry;
const tsconfig = join(actorDir, "tsconfig.json");
if (existsSync(tsconfig)) {
  const tsc = spawnSync(
    join(sdk, "node_modules", ".bin", "tsc"),
    ["-p", tsconfig, "--outDir", join(work, "js"), "--rootDir", join(actorDir, "src")],
    { stdio: ["ignore", "inherit", "inherit"] },
  );
  if (tsc.status !== 0) {
    console.error(`build.mjs: tsc failed for ${actorDir}`);
    process.exit(1);
  }
  entry = join(work, "js", "index.js");
} else {
  entry = join(actorDir, "src", "index.js");
}
if (!existsSync(entry)) usage(`no entry module ${entry} (src/index.ts or src/index.js)`);
const tscTime = lap();

// 2. One ES module.
const sdkEntry = join(sdk, "dist", "index.js");
if (!existsSync(sdkEntry)) usage(`the SDK is not built (${sdkEntry}): run \`npm run build\` in ${sdk}`);
const { build } = await import("rolldown");
const bundle = join(work, "bundle.js");
await build({
  input: entry,
  cwd: work,
  platform: "neutral",
  external: [/^wapr:/, /^wasi:/],
  resolve: { alias: { "@wapr/actor": sdkEntry } },
  logLevel: "warn",
  output: { file: bundle, format: "esm", minify: false, sourcemap: false },
});
const bundleTime = lap();

// 3. The component, against the actor's own WIT if it has one.
let witPath = wit;
if (existsSync(join(actorDir, "wit"))) {
  witPath = join(work, "wit");
  await cp(join(actorDir, "wit"), witPath, { recursive: true });
  await cp(wit, join(witPath, "deps", "wapr-actor"), { recursive: true });
}
const { componentize } = await import("@bytecodealliance/componentize-js");
const cwd = process.cwd();
process.chdir(work);
let component;
try {
  ({ component } = await componentize({
    sourcePath: bundle,
    witPath,
    worldName: "actor",
    disableFeatures: ["http", "fetch-event"],
  }));
} finally {
  process.chdir(cwd);
}
await mkdir(dirname(out), { recursive: true });
const tmp = `${out}.tmp`;
await writeFile(tmp, component);
await copyFile(tmp, out);
await rm(tmp);
const componentizeTime = lap();
const size = (await stat(out)).size;
console.error(
  `built ${out} (${(size / 1024 / 1024).toFixed(1)} MiB): tsc ${tscTime}, bundle ${bundleTime}, componentize ${componentizeTime}`,
);

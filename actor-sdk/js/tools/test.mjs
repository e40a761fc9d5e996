#!/usr/bin/env node
// Runs an actor's unit tests under Node.js against the mock host:
//
//   node actor-sdk/js/tools/test.mjs <actor-dir> [--work <dir>]
//
// compiles <actor-dir>/test/tsconfig.json (the actor's src/ and its
// test/*.test.ts) with tsc into <work> (default target/guests/.test/<name>),
// then runs `node --import tools/test-register.mjs --test` on the compiled
// tests. The SDK must be built (`npm run build` in actor-sdk/js, or
// scripts/guests/js.sh). Exits with the test runner's status.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const sdk = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
let work;
const positional = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--work") work = args[++i];
  else positional.push(args[i]);
}
if (positional.length !== 1) {
  console.error("usage: node test.mjs <actor-dir> [--work <dir>]");
  process.exit(2);
}
const actorDir = resolve(positional[0]);
const repo = resolve(sdk, "..", "..");
work = resolve(work ?? join(process.env.CARGO_TARGET_DIR ?? join(repo, "target"), "guests", ".test", basename(actorDir)));
if (!existsSync(join(sdk, "dist", "testing", "index.js"))) {
  console.error(`test.mjs: the SDK is not built: run \`npm run build\` in ${sdk}`);
  process.exit(2);
}
const tsconfig = join(actorDir, "test", "tsconfig.json");
if (!existsSync(tsconfig)) {
  console.error(`test.mjs: no ${tsconfig}`);
  process.exit(2);
}
rmSync(work, { recursive: true, force: true });
const tsc = spawnSync(join(sdk, "node_modules", ".bin", "tsc"), ["-p", tsconfig, "--outDir", work, "--rootDir", actorDir], {
  stdio: ["ignore", "inherit", "inherit"],
});
if (tsc.status !== 0) process.exit(tsc.status ?? 1);
const tests = readdirSync(join(work, "test"))
  .filter((f) => f.endsWith(".test.js"))
  .map((f) => join(work, "test", f));
const run = spawnSync(process.execPath, ["--import", join(sdk, "tools", "test-register.mjs"), "--test", ...tests], {
  stdio: "inherit",
});
process.exit(run.status ?? 1);

#!/usr/bin/env node
// Runs contract tests against built actor components under Node.js:
//
//   node tests/components/run.mjs [<component> ...] [--work <dir>]
//
// e.g. `node tests/components/run.mjs as-testbed ts-testbed py-testbed testbed`
// (default: those four). Each component `<name>.wasm` is looked up in
// $CARGO_TARGET_DIR/guests, target/guests, $CARGO_TARGET_DIR/actors and
// target/actors (scripts/guests/*.sh and `cargo run -p xtask --
// build-actors` put them there), and transpiled by jco (the JS SDK's
// toolchain, actor-sdk/js/node_modules) into JavaScript plus its core
// modules, under <work> (default <target>/guests/.test/components). Their
// `wapr:actor/*` imports resolve to the JS SDK's mock host
// (actor-sdk/js/dist/testing, built by scripts/guests/js.sh), which keeps
// the ABI's turn rules; WASI imports, for the components that have them,
// to jco's preview2-shim. So every SDK's glue to the WIT (hand-written for
// AssemblyScript, generated for the others) is exercised through the
// canonical ABI's lifting and lowering, as a host does it.
//
// `node --test` then runs tests/components/*.test.mjs with
// WAPR_COMPONENTS=<work> and WAPR_TESTBEDS=<the components, comma-separated>.
// Exits with the test runner's status.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "..", "..");
const jsSdk = join(repo, "actor-sdk", "js");
const target = resolve(process.env.CARGO_TARGET_DIR ?? join(repo, "target"));
const args = process.argv.slice(2);
let work = join(target, "guests", ".test", "components");
const names = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--work") work = resolve(args[++i]);
  else if (args[i].startsWith("-")) {
    console.error("usage: node tests/components/run.mjs [<component> ...] [--work <dir>]");
    process.exit(2);
  } else names.push(args[i]);
}
if (names.length === 0) names.push("as-testbed", "ts-testbed", "py-testbed", "testbed");

const jco = join(jsSdk, "node_modules", ".bin", "jco");
if (!existsSync(jco) || !existsSync(join(jsSdk, "dist", "testing", "host.js"))) {
  console.error("run.mjs: the JS SDK and its toolchain are needed: run scripts/guests/js.sh first");
  process.exit(2);
}

const dirs = [...new Set([join(target, "guests"), join(repo, "target", "guests"), join(target, "actors"), join(repo, "target", "actors")])];
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
// Lets the transpiled modules import @bytecodealliance/preview2-shim.
symlinkSync(join(jsSdk, "node_modules"), join(work, "node_modules"));
for (const name of names) {
  const wasm = dirs.map((dir) => join(dir, `${name}.wasm`)).find(existsSync);
  if (wasm === undefined) {
    console.error(`run.mjs: ${name}.wasm is in none of ${dirs.join(", ")}: build it first`);
    process.exit(2);
  }
  console.error(`run.mjs: ${name}: ${wasm}`);
  const t = spawnSync(jco, ["transpile", wasm, "-o", join(work, name), "--name", name, "--no-typescript", "-q"], {
    stdio: ["ignore", "inherit", "inherit"],
  });
  if (t.status !== 0) {
    console.error(`run.mjs: jco transpile failed for ${wasm}`);
    process.exit(t.status ?? 1);
  }
}

// Node 20's V8 needs a flag for the extended constant expressions that
// componentize-py's modules use; later versions have them on.
const EXTENDED_CONST = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 6, 9, 1, 0x7f, 0, 0x41, 1, 0x41, 2, 0x6a, 0x0b]);
const flags = WebAssembly.validate(EXTENDED_CONST) ? [] : ["--experimental-wasm-extended-const"];

const tests = readdirSync(here)
  .filter((f) => f.endsWith(".test.mjs"))
  .map((f) => join(here, f));
const run = spawnSync(
  process.execPath,
  [...flags, "--import", join(jsSdk, "tools", "test-register.mjs"), "--test", ...tests],
  { stdio: "inherit", env: { ...process.env, WAPR_COMPONENTS: work, WAPR_TESTBEDS: names.join(",") } },
);
process.exit(run.status ?? 1);

#!/usr/bin/env node
// Builds an AssemblyScript actor into a wapr actor component.
//
//   node wapr-as-build.mjs <entry.ts> -o <out.wasm> [--debug] [--keep-core]
//
// 1. asc compiles the entry (with json-as's transform and the SDK's, the
//    minimal runtime, abort routed to the actor's log) into a core module
//    that imports `wapr:actor/*@0.2.1` and exports the canonical-ABI handler;
//    its data segments (one per static object, ~190 for a counter) are then
//    merged into one: wasmtime copies each segment into every new instance,
//    and one copy instead of ~190 makes activation ~3 us faster and the
//    instance ~2 KiB smaller (the file grows by the zeros in between, ~4 KB);
// 2. `wasm-tools component embed` + `component new` wrap it as a component of
//    the world `actor` in actor-sdk/wit (unused imports are dropped);
// 3. the component is checked as the xtask checks Rust actors: it imports
//    nothing but `wapr:actor/*@0.2.1` and exports `wapr:actor/handler@0.2.1`.
//
// wasm-tools is taken from $WASM_TOOLS, else PATH.

import { execFileSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const SDK = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const WIT = resolve(SDK, "..", "wit");

function usage(message) {
  if (message) process.stderr.write(`wapr-as-build: ${message}\n`);
  process.stderr.write("usage: wapr-as-build <entry.ts> -o <out.wasm> [--debug] [--keep-core]\n");
  process.exit(2);
}

const args = process.argv.slice(2);
let entry = null;
let out = null;
let debug = false;
let keepCore = false;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === "-o") out = args[++i];
  else if (a === "--debug") debug = true;
  else if (a === "--keep-core") keepCore = true;
  else if (a.startsWith("-")) usage(`unknown option ${a}`);
  else if (entry === null) entry = a;
  else usage(`unexpected argument ${a}`);
}
if (!entry || !out) usage();
out = resolve(out);

const wasmTools = process.env.WASM_TOOLS || "wasm-tools";
const tmp = mkdtempSync(join(tmpdir(), "wapr-as-"));
const core = join(tmp, "core.wasm");
const embedded = join(tmp, "embedded.wasm");

try {
  const { default: asc } = await import(join(SDK, "node_modules/assemblyscript/dist/asc.js"));
  const ascArgs = [
    entry,
    "--outFile", core,
    "--runtime", "minimal",
    "--transform", join(SDK, "node_modules/json-as/transform/lib/index.js"),
    "--transform", join(SDK, "transform/index.js"),
    "--use", "abort=~lib/wapr-actor-as/assembly/exports/__wapr_abort",
    "--use", "trace=~lib/wapr-actor-as/assembly/exports/__wapr_trace",
    "--use", "seed=~lib/wapr-actor-as/assembly/exports/__wapr_seed",
    // json-as's own code warns about usize/u32 conversions (AS201).
    "--disableWarning", "201",
    ...(debug ? ["--debug", "-O1"] : ["-O3"]),
  ];
  const { error, stderr } = await asc.main(ascArgs, {});
  const diagnostics = stderr.toString();
  if (diagnostics.trim()) process.stderr.write(diagnostics);
  if (error) {
    process.stderr.write(`wapr-as-build: asc failed: ${error.message}\n`);
    process.exit(1);
  }
  await mergeDataSegments(core);
  const run = (...argv) => execFileSync(wasmTools, argv, { stdio: ["ignore", "pipe", "inherit"] }).toString();
  run("component", "embed", WIT, "--world", "actor", core, "-o", embedded);
  run("component", "new", embedded, "-o", out);
  const wit = run("component", "wit", out);
  const world = wit.slice(wit.indexOf("world root {"), wit.indexOf("}", wit.indexOf("world root {")));
  const imports = [...world.matchAll(/^\s*import ([^;]+);/gm)].map((m) => m[1]);
  const exports = [...world.matchAll(/^\s*export ([^;]+);/gm)].map((m) => m[1]);
  const foreign = imports.filter((i) => !/^wapr:actor\/[a-z-]+@0\.2\.1$/.test(i));
  if (foreign.length) throw new Error(`the component imports ${foreign.join(", ")}: only wapr:actor/*@0.2.1 is allowed`);
  if (!exports.includes("wapr:actor/handler@0.2.1")) throw new Error("the component does not export wapr:actor/handler@0.2.1");
  if (keepCore) copyFileSync(core, out.replace(/\.wasm$/, "") + ".core.wasm");
  process.stderr.write(`wapr-as-build: ${out} (${statSync(out).size} bytes; imports ${imports.join(", ")})\n`);
} catch (e) {
  process.stderr.write(`wapr-as-build: ${e.message}\n`);
  process.exit(1);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

/** Rewrites the core module at `path` with its active data segments merged
 *  into one (gaps zero-filled). */
async function mergeDataSegments(path) {
  const { default: binaryen } = await import(join(SDK, "node_modules/binaryen/index.js"));
  const module = binaryen.readBinary(readFileSync(path));
  try {
    module.setFeatures(binaryen.Features.All);
    const count = module.getNumDataSegments();
    if (count < 2) return;
    const segments = [];
    for (let i = 0; i < count; i++) {
      const info = module.getDataSegmentInfo(module.getDataSegmentByIndex(i));
      if (info.passive || typeof info.offset !== "number") return; // leave such modules alone
      segments.push({ offset: info.offset, data: new Uint8Array(info.data) });
    }
    const start = Math.min(...segments.map((s) => s.offset));
    const end = Math.max(...segments.map((s) => s.offset + s.data.length));
    const merged = new Uint8Array(end - start);
    for (const s of segments) merged.set(s.data, s.offset - start);
    const memory = module.getMemoryInfo("0");
    module.removeExport("memory");
    module.setMemory(memory.initial, memory.max === undefined ? -1 : memory.max, "memory", [
      { offset: module.i32.const(start), data: merged, passive: false },
    ]);
    if (!module.validate()) throw new Error("merging the data segments made an invalid module");
    writeFileSync(path, module.emitBinary());
  } finally {
    module.dispose();
  }
}

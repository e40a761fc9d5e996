// asc transform: gives the SDK's core exports their canonical-ABI names.
//
// AssemblyScript names an export after its function, and the names the
// component model wants (`wapr:actor/handler@0.2.1#invoke`) are not
// identifiers, so the SDK exports `__wapr_invoke` etc. and this renames them
// once the module is compiled (before optimization).
import { Type } from "assemblyscript";
import { Transform } from "assemblyscript/transform";

const HANDLER = "wapr:actor/handler@0.2.1";
const FUNCTIONS = {
  __wapr_activate: "activate",
  __wapr_invoke: "invoke",
  __wapr_deactivate: "deactivate",
  __wapr_on_reminder: "on-reminder",
  __wapr_on_timer: "on-timer",
};

export default class WaprExports extends Transform {
  afterInitialize(program) {
    // json-as allocates its serialization-cache arena at start-up even with
    // the cache off: 1 MiB (JSON_CACHE_SIZE's default), zero-filled, in every
    // instance. With the cache off (JSON_CACHE unset, as here) a size of 0
    // shrinks that arena to json-as's minimum (128 bytes).
    if (!program.elementsByName.has("JSON_CACHE") && !program.elementsByName.has("JSON_CACHE_SIZE")) {
      // eslint-disable-next-line no-undef -- i64_zero: AssemblyScript's i64 glue
      program.registerConstantInteger("JSON_CACHE_SIZE", Type.u32, i64_zero);
    }
  }

  afterCompile(module) {
    const binaryen = this.binaryen;
    const internal = (name) => {
      const ref = module.getExport(name);
      return ref ? binaryen.getExportInfo(ref).value : null;
    };
    const post = internal("__wapr_post_return");
    let found = 0;
    for (const [from, fn] of Object.entries(FUNCTIONS)) {
      const target = internal(from);
      if (target === null) continue;
      found++;
      module.removeExport(from);
      module.addFunctionExport(target, `${HANDLER}#${fn}`);
      if (post !== null) module.addFunctionExport(post, `cabi_post_${HANDLER}#${fn}`);
    }
    if (found === 0) {
      throw new Error(
        'wapr: the entry file exports no handler: add `export * from "wapr-actor-as/assembly/exports";`',
      );
    }
    // Internal helpers that are exported only to be kept.
    for (const name of ["__wapr_post_return"]) {
      if (module.getExport(name)) module.removeExport(name);
    }
  }
}

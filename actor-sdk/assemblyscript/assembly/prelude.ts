// Imported first by the SDK so that it runs first in the start function.
//
// AssemblyScript initializes the runtime's object lists (`fromSpace`, ...)
// lazily, at the place in the start function where the compiler first meets
// them. json-as allocates at its top level, and those allocations can come
// before that place, leaving objects linked into an uninitialized list that
// the first garbage collection trips over. Calling the collector here (on an
// all but empty heap) puts the lists' initialization ahead of any library
// code's allocations. (An allocation here does not: `__new` is compiled
// later.) tests: build with --debug and collect right after start.
__collect();

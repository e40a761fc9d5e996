// `node --import actor-sdk/js/tools/test-register.mjs --test …`: installs
// test-loader.mjs (the mock wapr host for actors' unit tests).
import { register } from "node:module";

register("./test-loader.mjs", import.meta.url);

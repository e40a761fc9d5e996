// Package entry for asc, which resolves "wapr-actor-as" to this file.
export * from "./assembly/index";

//! Naming every import of a component the node cannot satisfy.
//!
//! Wasmtime's linker stops at the first unmet import. To name them all,
//! a probe copy of the linker stands in a trapping stub for each unmet
//! import it is told of, and tries again, until the component links or an
//! import cannot be stubbed.

use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, Linker, ResourceType};

use super::ctx::ActorCtx;

/// Most imports named before giving up (a component has a few dozen).
const MOST: usize = 256;

/// Every import of `component` that `linker` does not satisfy, each with
/// the reason (`first` is the linker's error for the first one).
pub(super) fn unmet_imports(
    linker: &Linker<ActorCtx>,
    component: &Component,
    first: wasmtime::Error,
) -> Vec<String> {
    let engine = component.engine();
    let imports: Vec<(String, ComponentItem)> = component
        .component_type()
        .imports(engine)
        .map(|(name, item)| (name.to_string(), item.ty))
        .collect();
    let mut probe = linker.clone();
    probe.allow_shadowing(true);
    let mut unmet = Vec::new();
    let mut error = first;
    while unmet.len() < MOST {
        let Some(name) = import_named_in(&error, &imports) else {
            unmet.push(format!("{error:#}"));
            break;
        };
        unmet.push(describe(name, &error));
        let item = imports
            .iter()
            .find_map(|(n, item)| (n == name).then_some(item));
        if let Err(e) = item.map_or(Ok(()), |item| stub(&mut probe, engine, name, item)) {
            tracing::debug!(import = name, error = %e, "cannot stub an import to look further");
            break;
        }
        match probe.instantiate_pre(component) {
            Ok(_) => break,
            Err(next) => error = next,
        }
    }
    unmet
}

/// The component import the linker's error is about.
fn import_named_in<'a>(
    error: &wasmtime::Error,
    imports: &'a [(String, ComponentItem)],
) -> Option<&'a str> {
    let text = error.to_string();
    let start = text.find('`')? + 1;
    let end = start + text[start..].find('`')?;
    let quoted = &text[start..end];
    imports
        .iter()
        .map(|(name, _)| name.as_str())
        .find(|name| *name == quoted)
}

/// `name` and why it is unmet, in wasmtime's words (the chain below its
/// "component imports …" context).
fn describe(name: &str, error: &wasmtime::Error) -> String {
    let reasons: Vec<String> = error.chain().skip(1).map(ToString::to_string).collect();
    if reasons.is_empty() {
        format!("`{name}` (not provided)")
    } else {
        format!("`{name}` ({})", reasons.join(": "))
    }
}

/// Defines `name` in `probe` with stubs that trap.
fn stub(
    probe: &mut Linker<ActorCtx>,
    engine: &wasmtime::Engine,
    name: &str,
    item: &ComponentItem,
) -> wasmtime::Result<()> {
    match item {
        ComponentItem::ComponentFunc(_) => {
            probe
                .root()
                .func_new(name, |_, _, _, _| wasmtime::bail!("not linked"))?;
        }
        ComponentItem::Resource(_) => {
            probe
                .root()
                .resource(name, ResourceType::host::<Unlinked>(), |_, _| Ok(()))?;
        }
        ComponentItem::ComponentInstance(instance) => {
            let mut stubs = probe.instance(name)?;
            for (export, item) in instance.exports(engine) {
                match item.ty {
                    ComponentItem::ComponentFunc(_) => {
                        stubs.func_new(export, |_, _, _, _| wasmtime::bail!("not linked"))?;
                    }
                    ComponentItem::Resource(_) => {
                        stubs.resource(export, ResourceType::host::<Unlinked>(), |_, _| Ok(()))?;
                    }
                    _ => {}
                }
            }
        }
        _ => wasmtime::bail!("a {name} import of this kind cannot be stubbed"),
    }
    Ok(())
}

/// The host type behind stubbed resources.
struct Unlinked;

#[cfg(test)]
mod tests {
    use wasmtime::component::Component;

    use super::*;

    /// A component importing one interface WASI provides, one it leaves
    /// out (`wasi:http`) and one nobody provides.
    const WANTS_TOO_MUCH: &str = r#"
        (component
          (import "wasi:cli/environment@0.2.6" (instance
            (export "get-arguments" (func (result (list string))))))
          (import "wasi:http/outgoing-handler@0.2.6" (instance
            (export "nothing" (func))))
          (import "acme:gadget/api@1.0.0" (instance
            (export "frob" (func (param "n" u32)))))
          (import "wasi:clocks/monotonic-clock@0.2.6" (instance
            (export "now" (func (result string)))))
        )
    "#;

    #[test]
    fn every_unmet_import_is_named_with_its_reason() {
        let engine = wasmtime::Engine::default();
        let bytes = wat::parse_str(WANTS_TOO_MUCH).expect("wat");
        let component = Component::new(&engine, &bytes).expect("component");
        let mut linker: Linker<ActorCtx> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).expect("wasi");
        let first = linker
            .instantiate_pre(&component)
            .map(|_| ())
            .expect_err("unmet");
        let unmet = unmet_imports(&linker, &component, first);
        assert_eq!(unmet.len(), 3, "{unmet:?}");
        assert!(
            unmet[0].starts_with("`wasi:http/outgoing-handler@0.2.6` (")
                && unmet[0].contains("`nothing`")
                && unmet[0].contains("missing"),
            "{unmet:?}"
        );
        assert!(
            unmet[1].starts_with("`acme:gadget/api@1.0.0` (") && unmet[1].contains("`frob`"),
            "{unmet:?}"
        );
        assert!(
            unmet[2].starts_with("`wasi:clocks/monotonic-clock@0.2.6` (")
                && unmet[2].contains("`now`")
                && !unmet[2].contains("missing"),
            "present with another type: {unmet:?}"
        );
    }
}

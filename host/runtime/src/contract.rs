//! The function types of `podium:driver/driver`, per supported version, and
//! a WIT-like rendering of a component's function types to compare them with.
//!
//! Linking checks names only; wasmtime compares the types at the first call
//! ("failed to convert function to given type"). Comparing them when a
//! component is inspected turns a driver built from an edited WIT into a
//! clear refusal at upload, naming the function and both types.

use wasmparser::PrimitiveValType;
use wasmparser::component_types::{ComponentDefinedType, ComponentFuncType, ComponentValType};
use wasmparser::types::Types;

const CONTEXT_0_1: &str = "record { app-id: string, env-id: string, env-type: string, \
     res-id: string, res-type: string, res-class: string, guresid: string, deploy-id: string }";
const ERROR_0_1: &str = "variant { invalid-input(string), denied(string), unavailable(string), \
     conflict(string), failed(string) }";

/// `(function, type)` of every function of `podium:driver/driver@version`,
/// or `None` for a version this host does not know.
pub fn driver_functions(version: &str) -> Option<Vec<(&'static str, String)>> {
    match version {
        "0.1.0" => {
            let request = format!(
                "record {{ context: {CONTEXT_0_1}, params: string, driver-values: string, \
                 driver-secrets: string, state: option<string> }}"
            );
            Some(vec![
                (
                    "info",
                    "func() -> record { name: string, version: string, \
                     resource-types: list<string>, inputs-schema: string }"
                        .to_string(),
                ),
                (
                    "plan",
                    format!(
                        "func(request: {request}) -> result<record {{ action: enum {{ create, \
                         update, unchanged, delete }}, summary: string }}, {ERROR_0_1}>"
                    ),
                ),
                (
                    "apply",
                    format!(
                        "func(request: {request}) -> result<record {{ values: string, \
                         secrets: string, state: option<string> }}, {ERROR_0_1}>"
                    ),
                ),
                (
                    "delete",
                    format!("func(request: {request}) -> result<_, {ERROR_0_1}>"),
                ),
            ])
        }
        _ => None,
    }
}

/// A function type in WIT syntax, structurally: type names are not part of
/// the contract, their shapes are.
pub fn describe_func(types: &Types, f: &ComponentFuncType) -> String {
    let params: Vec<String> = f
        .params
        .iter()
        .map(|(name, ty)| format!("{}: {}", name.as_str(), describe(types, ty)))
        .collect();
    let result = match &f.result {
        Some(ty) => format!(" -> {}", describe(types, ty)),
        None => String::new(),
    };
    let kind = if f.async_ { "async func" } else { "func" };
    format!("{kind}({}){result}", params.join(", "))
}

fn describe(types: &Types, ty: &ComponentValType) -> String {
    match ty {
        ComponentValType::Primitive(p) => primitive(*p).to_string(),
        ComponentValType::Type(id) => describe_defined(types, &types[*id]),
    }
}

fn describe_defined(types: &Types, ty: &ComponentDefinedType) -> String {
    let d = |t: &ComponentValType| describe(types, t);
    let opt = |t: &Option<ComponentValType>| t.as_ref().map_or("_".to_string(), d);
    match ty {
        ComponentDefinedType::Primitive(p) => primitive(*p).to_string(),
        ComponentDefinedType::Record(r) => {
            let fields: Vec<String> = r
                .fields
                .iter()
                .map(|(name, t)| format!("{}: {}", name.as_str(), d(t)))
                .collect();
            format!("record {{ {} }}", fields.join(", "))
        }
        ComponentDefinedType::Variant(v) => {
            let cases: Vec<String> = v
                .cases
                .iter()
                .map(|(name, case)| match &case.ty {
                    Some(t) => format!("{}({})", name.as_str(), d(t)),
                    None => name.as_str().to_string(),
                })
                .collect();
            format!("variant {{ {} }}", cases.join(", "))
        }
        ComponentDefinedType::List { element, .. } => format!("list<{}>", d(element)),
        ComponentDefinedType::Tuple(t) => {
            let items: Vec<String> = t.types.iter().map(d).collect();
            format!("tuple<{}>", items.join(", "))
        }
        ComponentDefinedType::Flags(names) => {
            let names: Vec<&str> = names.iter().map(|n| n.as_str()).collect();
            format!("flags {{ {} }}", names.join(", "))
        }
        ComponentDefinedType::Enum(names) => {
            let names: Vec<&str> = names.iter().map(|n| n.as_str()).collect();
            format!("enum {{ {} }}", names.join(", "))
        }
        ComponentDefinedType::Option { ty, .. } => format!("option<{}>", d(ty)),
        ComponentDefinedType::Result { ok, err, .. } => {
            format!("result<{}, {}>", opt(ok), opt(err))
        }
        // Resources, maps, streams, ...: never part of the contract; any
        // rendering that differs from the expected text will do.
        other => format!("<{}>", kind_name(other)),
    }
}

fn kind_name(ty: &ComponentDefinedType) -> &'static str {
    match ty {
        ComponentDefinedType::Map { .. } => "map",
        ComponentDefinedType::FixedLengthList { .. } => "fixed-length list",
        ComponentDefinedType::Own(_) => "own",
        ComponentDefinedType::Borrow(_) => "borrow",
        ComponentDefinedType::Future { .. } => "future",
        ComponentDefinedType::Stream { .. } => "stream",
        _ => "other",
    }
}

fn primitive(p: PrimitiveValType) -> &'static str {
    match p {
        PrimitiveValType::Bool => "bool",
        PrimitiveValType::S8 => "s8",
        PrimitiveValType::U8 => "u8",
        PrimitiveValType::S16 => "s16",
        PrimitiveValType::U16 => "u16",
        PrimitiveValType::S32 => "s32",
        PrimitiveValType::U32 => "u32",
        PrimitiveValType::S64 => "s64",
        PrimitiveValType::U64 => "u64",
        PrimitiveValType::F32 => "f32",
        PrimitiveValType::F64 => "f64",
        PrimitiveValType::Char => "char",
        PrimitiveValType::String => "string",
        PrimitiveValType::ErrorContext => "error-context",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_supported_version_has_its_functions() {
        for v in crate::SUPPORTED_WIT_VERSIONS {
            let functions = driver_functions(v).expect("known version");
            let names: Vec<&str> = functions.iter().map(|(n, _)| *n).collect();
            assert_eq!(names, ["info", "plan", "apply", "delete"]);
        }
        assert!(driver_functions("9.9.9").is_none());
    }
}

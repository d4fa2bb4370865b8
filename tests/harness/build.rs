fn main() {
    let paths = podium_wasm_build::build_guests(&["podium-guest-hostile"]);
    let out = std::env::var("OUT_DIR").expect("OUT_DIR");
    let code = format!(
        "pub const HOSTILE: &[u8] = include_bytes!({:?});\n",
        paths[0].display().to_string()
    );
    std::fs::write(std::path::Path::new(&out).join("components.rs"), code)
        .expect("write components.rs");
}

fn main() {
    let paths = podium_wasm_build::build_guests(&[
        "podium-driver-echo",
        "podium-driver-template",
        "podium-driver-kubernetes",
    ]);
    let out = std::env::var("OUT_DIR").expect("OUT_DIR");
    let mut code = String::new();
    for (name, path) in [
        ("ECHO", &paths[0]),
        ("TEMPLATE", &paths[1]),
        ("KUBERNETES", &paths[2]),
    ] {
        code.push_str(&format!(
            "pub const {name}: &[u8] = include_bytes!({:?});\n",
            path.display().to_string()
        ));
    }
    std::fs::write(std::path::Path::new(&out).join("components.rs"), code)
        .expect("write components.rs");
}

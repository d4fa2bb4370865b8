/// (const name in `components.rs`, guest package).
const GUESTS: &[(&str, &str)] = &[
    ("ECHO", "podium-driver-echo"),
    ("TEMPLATE", "podium-driver-template"),
    ("POSTGRES", "podium-driver-postgres"),
    ("POWERDNS", "podium-driver-powerdns"),
    ("S3", "podium-driver-s3"),
    ("KUBERNETES", "podium-driver-kubernetes"),
];

fn main() {
    let packages: Vec<&str> = GUESTS.iter().map(|(_, p)| *p).collect();
    let paths = podium_wasm_build::build_guests(&packages);
    let out = std::env::var("OUT_DIR").expect("OUT_DIR");
    let mut code = String::new();
    for ((name, _), path) in GUESTS.iter().zip(&paths) {
        code.push_str(&format!(
            "pub const {name}: &[u8] = include_bytes!({:?});\n",
            path.display().to_string()
        ));
    }
    std::fs::write(std::path::Path::new(&out).join("components.rs"), code)
        .expect("write components.rs");
}

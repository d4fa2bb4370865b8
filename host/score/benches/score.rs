//! Parse + validate + expand a typical Score file (throughput = files/s).
//!
//! Run: `cargo bench -p podium-score --bench score`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use podium_score::placeholder::{ResolveError, Resolved};
use podium_score::{expand_workload, load_str};

const TYPICAL: &str = include_str!("typical-score.yaml");

/// Resource outputs as the pipeline would supply them; `password` is secret.
fn outputs(path: &[String]) -> Result<Resolved, ResolveError> {
    let key = path.get(2).map(String::as_str).unwrap_or("");
    Ok(match key {
        "password" => Resolved::secret("s3cr3t"),
        "port" => Resolved::public(5432),
        "" => Resolved::public(format!("volume.default#{}", path.join("."))),
        other => Resolved::public(format!("{other}.example.internal")),
    })
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("score");
    group.throughput(Throughput::Elements(1));
    group.bench_function("parse_validate_expand", |b| {
        b.iter(|| {
            let workload = load_str("score.yaml", std::hint::black_box(TYPICAL), None)
                .map_err(|r| r.to_string())?;
            expand_workload(&workload, &outputs).map_err(|e| e.to_string())
        })
    });
    group.bench_function("parse_only", |b| {
        b.iter(|| podium_score::yaml::parse(std::hint::black_box(TYPICAL)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

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
    group.bench_function("load_only", |b| {
        b.iter(|| load_str("score.yaml", std::hint::black_box(TYPICAL), None))
    });
    group.bench_function("yaml_to_value", |b| {
        let limits = podium_score::yaml::Limits::default();
        b.iter(|| podium_score::yaml::parse_value(std::hint::black_box(TYPICAL), limits))
    });
    group.bench_function("yaml_to_value_with_lines", |b| {
        b.iter(|| podium_score::yaml::parse(std::hint::black_box(TYPICAL)))
    });
    // The floor: the YAML event stream alone, without building anything.
    group.bench_function("yaml_events_only", |b| {
        b.iter(|| saphyr_parser::Parser::new_from_str(std::hint::black_box(TYPICAL)).count())
    });
    group.bench_function("schema_only", |b| {
        let value = podium_score::yaml::parse(TYPICAL)
            .map(|d| d.value)
            .unwrap_or_default();
        b.iter(|| podium_score::schema::validate(std::hint::black_box(&value)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! Graph building: private vs shared nodes, implicit nodes, dependencies
//! through definition placeholders and Score params, conflicts and cycles.
//! One `check`: a set and extra definitions (YAML), the expected rendering
//! (`L<level> <node> = <definition> <- <deps>`) or error text.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use podium_core::{Graph, NodeKind};

/// Definitions every case has: one catch-all per implicit type and workload.
const BASE: &str = r#"
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {id: cluster}
spec: {type: k8s-cluster, driver_type: podium/echo, criteria: [{}]}
---
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {id: ns}
spec: {type: k8s-namespace, driver_type: podium/echo, criteria: [{}]}
---
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {id: k8s}
spec:
  type: workload
  driver_type: podium/kubernetes
  driver_inputs:
    values: {namespace: "${resources.k8s-namespace.outputs.namespace}"}
  criteria: [{}]
"#;

fn render(g: &Graph) -> String {
    let mut out = Vec::new();
    for &id in g.order() {
        let n = g.node(id).unwrap();
        let deps: Vec<String> = n
            .deps
            .iter()
            .map(|&d| g.node(d).unwrap().key.to_string())
            .collect();
        let mut line = format!("L{} {} = {}", n.level, n.key, n.definition.id);
        if !deps.is_empty() {
            line.push_str(&format!(" <- {}", deps.join(", ")));
        }
        out.push(line);
    }
    out.join("\n")
}

#[track_caller]
fn check(set_yaml: &str, defs_yaml: &str, expected: &str) {
    let defs = definitions(&format!("{BASE}\n---\n{defs_yaml}"));
    let set = set(set_yaml);
    let got = match Graph::build(&set, &env("shop", "dev", "development"), &defs) {
        Ok(g) => {
            // Invariants every graph keeps.
            for (i, n) in g.nodes().iter().enumerate() {
                for &d in &n.deps {
                    assert!(g.node(d).unwrap().level < n.level, "{} before {}", d, i);
                }
                assert_eq!(g.get(&n.key).map(|m| &m.guresid), Some(&n.guresid));
            }
            assert_eq!(
                g.levels().iter().map(Vec::len).sum::<usize>(),
                g.nodes().len()
            );
            render(&g)
        }
        Err(e) => format!("error: {e}"),
    };
    assert_text(&got, expected);
}

const PG: &str = r#"
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {id: pg}
spec:
  type: postgres
  driver_type: podium/postgres
  driver_inputs:
    values: {host: "${resources.dns.outputs.host}", app: "${context.app.id}"}
    secrets: {admin_password: "${values.PG_ADMIN}"}
  criteria: [{}]
---
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {id: dns}
spec: {type: dns, driver_type: podium/powerdns, criteria: [{}]}
"#;

#[test]
fn private_and_shared_resources() {
    check(
        r#"
modules:
  web:
    metadata: {name: web}
    containers: {main: {image: nginx}}
    resources:
      db: {type: postgres, id: main}
      cache: {type: dns}
      env: {type: environment}
  api:
    metadata: {name: api}
    containers: {main: {image: api}}
    resources:
      database: {type: postgres, id: main}
"#,
        PG,
        "
        L0 dns.default#modules.web.externals.cache = dns
        L0 dns.default#shared.main = dns
        L0 k8s-cluster.default#k8s-cluster = cluster
        L0 k8s-namespace.default#k8s-namespace = ns
        L1 postgres.default#shared.main = pg <- dns.default#shared.main
        L2 workload.default#modules.api = k8s <- k8s-cluster.default#k8s-cluster, k8s-namespace.default#k8s-namespace, postgres.default#shared.main
        L2 workload.default#modules.web = k8s <- k8s-cluster.default#k8s-cluster, k8s-namespace.default#k8s-namespace, postgres.default#shared.main, dns.default#modules.web.externals.cache
        ",
    );
}

#[test]
fn explicit_res_id_and_class_in_definition_references() {
    check(
        r#"
modules:
  web:
    metadata: {name: web}
    containers: {main: {image: nginx}}
    resources:
      bucket: {type: s3, class: large}
"#,
        r#"
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {id: s3}
spec:
  type: s3
  driver_type: podium/s3
  driver_inputs:
    values:
      endpoint: "https://${resources.dns.edge#shared.edge.outputs.host}/"
      region: "${resources.dns.outputs.host}"
  grants: ["https://${resources.dns.edge#shared.edge.outputs.host}"]
  criteria: [{class: large}]
---
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {id: dns}
spec: {type: dns, driver_type: podium/powerdns, criteria: [{}, {class: edge}]}
"#,
        "
        L0 dns.default#modules.web.externals.bucket = dns
        L0 dns.edge#shared.edge = dns
        L0 k8s-cluster.default#k8s-cluster = cluster
        L0 k8s-namespace.default#k8s-namespace = ns
        L1 s3.large#modules.web.externals.bucket = s3 <- dns.edge#shared.edge, dns.default#modules.web.externals.bucket
        L2 workload.default#modules.web = k8s <- k8s-cluster.default#k8s-cluster, k8s-namespace.default#k8s-namespace, s3.large#modules.web.externals.bucket
        ",
    );
}

#[test]
fn score_params_referencing_other_resources_add_edges() {
    check(
        r#"
modules:
  web:
    metadata: {name: web}
    containers: {main: {image: nginx}}
    resources:
      host: {type: dns}
      route: {type: route, params: {host: "${resources.host.host}", name: "${metadata.name}", e: "${resources.env.X}"}}
      env: {type: environment}
"#,
        r#"
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {id: dns}
spec: {type: dns, driver_type: podium/powerdns, criteria: [{}]}
---
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {id: route}
spec: {type: route, driver_type: podium/echo, criteria: [{}]}
"#,
        "
        L0 dns.default#modules.web.externals.host = dns
        L0 k8s-cluster.default#k8s-cluster = cluster
        L0 k8s-namespace.default#k8s-namespace = ns
        L1 route.default#modules.web.externals.route = route <- dns.default#modules.web.externals.host
        L2 workload.default#modules.web = k8s <- k8s-cluster.default#k8s-cluster, k8s-namespace.default#k8s-namespace, dns.default#modules.web.externals.host, route.default#modules.web.externals.route
        ",
    );
}

#[test]
fn set_shared_section_and_params_merging() {
    check(
        r#"
shared:
  main: {type: postgres, params: {size: 10}}
modules:
  web:
    metadata: {name: web}
    containers: {main: {image: nginx}}
    resources:
      db: {type: postgres, id: main}
  api:
    metadata: {name: api}
    containers: {main: {image: api}}
    resources:
      db: {type: postgres, id: main, params: {size: 10}}
"#,
        PG,
        "
        L0 dns.default#shared.main = dns
        L0 k8s-cluster.default#k8s-cluster = cluster
        L0 k8s-namespace.default#k8s-namespace = ns
        L1 postgres.default#shared.main = pg <- dns.default#shared.main
        L2 workload.default#modules.api = k8s <- k8s-cluster.default#k8s-cluster, k8s-namespace.default#k8s-namespace, postgres.default#shared.main
        L2 workload.default#modules.web = k8s <- k8s-cluster.default#k8s-cluster, k8s-namespace.default#k8s-namespace, postgres.default#shared.main
        ",
    );
}

#[test]
fn shared_conflicts() {
    let two = |a: &str, b: &str| {
        format!(
            "
modules:
  api: {{metadata: {{name: api}}, containers: {{}}, resources: {{db: {a}}}}}
  web: {{metadata: {{name: web}}, containers: {{}}, resources: {{db: {b}}}}}
"
        )
    };
    let cases = [
        (
            "{type: postgres, id: main, params: {size: 1}}",
            "{type: postgres, id: main, params: {size: 2}}",
            "error: shared resource \"main\": params differs between modules.api.resources.db and modules.web.resources.db",
        ),
        (
            "{type: postgres, id: main}",
            "{type: dns, id: main}",
            "error: shared resource \"main\": type differs between modules.api.resources.db and modules.web.resources.db",
        ),
        (
            "{type: postgres, id: main, class: large}",
            "{type: postgres, id: main}",
            "error: shared resource \"main\": class differs between modules.api.resources.db and modules.web.resources.db",
        ),
    ];
    // Matching happens as nodes are created, so give class large a match.
    let defs = PG.replacen("criteria: [{}]", "criteria: [{}, {class: large}]", 1);
    for (a, b, expected) in cases {
        check(&two(a, b), &defs, expected);
    }
}

#[test]
fn cycles_are_spelled_out() {
    check(
        r#"
shared:
  db: {type: postgres}
"#,
        r#"
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {id: pg}
spec:
  type: postgres
  driver_type: podium/postgres
  driver_inputs: {values: {host: "${resources.dns.outputs.host}"}}
  criteria: [{}]
---
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {id: dns}
spec:
  type: dns
  driver_type: podium/powerdns
  driver_inputs: {values: {target: "${resources.postgres.outputs.host}"}}
  criteria: [{}]
"#,
        "error: dependency cycle: postgres.default#shared.db -> dns.default#shared.db -> postgres.default#shared.db",
    );
    // A self-reference through Score params.
    check(
        r#"
modules:
  web:
    metadata: {name: web}
    containers: {}
    resources:
      a: {type: dns, params: {x: "${resources.a.host}"}}
"#,
        "
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {id: dns}
spec: {type: dns, driver_type: podium/powerdns, criteria: [{}]}
",
        "error: dependency cycle: dns.default#modules.web.externals.a -> dns.default#modules.web.externals.a",
    );
}

#[test]
fn errors_name_the_piece() {
    let web = |resources: &str| {
        format!(
            "modules: {{web: {{metadata: {{name: web}}, containers: {{}}, resources: {resources}}}}}"
        )
    };
    // A dependency nobody can fulfil names who needed it.
    check(
        &web("{db: {type: postgres}}"),
        "
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {id: pg}
spec: {type: postgres, driver_type: p, driver_inputs: {values: {h: '${resources.dns.outputs.host}'}}, criteria: [{}]}
",
        "error: no resource definition matches dns (class default, res_id modules.web.externals.db) in app shop, env dev (type development); 0 candidate definition(s) of that type, see `explain` (needed by postgres.default#modules.web.externals.db)",
    );
    check(
        &web("{db: {type: postgres}}"),
        "
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {id: pg}
spec: {type: postgres, driver_type: p, driver_inputs: {secrets: {h: '${context.app.name}'}}, criteria: [{}]}
",
        "error: definition \"pg\": driver_inputs.secrets.h: ${context.app.name}: unknown context key; expected context.(app.id|env.id|env.type|res.id|res.type|res.class|res.guresid|deploy.id), values.KEY or resources.TYPE[.CLASS][#RES_ID].outputs.KEY",
    );
    check(
        &web("{db: {type: postgres}}"),
        "
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {id: pg}
spec: {type: postgres, driver_type: p, grants: ['${values.X'], criteria: [{}]}
",
        "error: definition \"pg\": grants[0]: unterminated placeholder at byte 0: missing '}' (use $$ to write a literal $)",
    );
    check(
        &web("{r: {type: dns, params: {h: '${resources.nope.host}'}}}"),
        "
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {id: dns}
spec: {type: dns, driver_type: p, criteria: [{}]}
",
        "error: modules.web.resources.r.params.h: ${resources.nope.host} names resource \"nope\", which workload \"web\" does not declare",
    );
}

#[test]
fn node_kinds_params_and_guresids() {
    let defs = definitions(&format!("{BASE}\n---\n{PG}"));
    let set = set(r#"
modules:
  web:
    metadata: {name: web}
    containers: {main: {image: nginx}}
    resources:
      db: {type: postgres, params: {extensions: [pgcrypto]}}
"#);
    let g = Graph::build(&set, &env("shop", "dev", "development"), &defs).unwrap();
    let key = |s: &str| {
        let (tc, id) = s.split_once('#').unwrap();
        let (t, c) = tc.split_once('.').unwrap();
        podium_core::ResourceKey::new(t, c, id)
    };
    let db = g
        .get(&key("postgres.default#modules.web.externals.db"))
        .unwrap();
    assert_eq!(
        db.kind,
        NodeKind::Private {
            workload: "web".into(),
            name: "db".into()
        }
    );
    assert_eq!(*db.params, serde_json::json!({"extensions": ["pgcrypto"]}));
    assert_eq!(db.guresid, podium_core::guresid("shop", "dev", &db.key));
    let dns = g.get(&key("dns.default#modules.web.externals.db")).unwrap();
    assert_eq!(
        dns.kind,
        NodeKind::Dependency {
            needed_by: db.key.clone()
        }
    );
    let web = g.get(&key("workload.default#modules.web")).unwrap();
    assert_eq!(web.params["containers"]["main"]["image"], "nginx");
    assert_eq!(
        g.get(&key("k8s-cluster.default#k8s-cluster")).unwrap().kind,
        NodeKind::Implicit
    );
    assert_eq!(g.definition_refs("pg").unwrap().values, ["PG_ADMIN"]);
    assert_eq!(g.levels().len(), 3);
}

#[test]
fn a_set_without_workloads_needs_no_cluster() {
    check(
        "shared: {db: {type: dns}}",
        "
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {id: dns}
spec: {type: dns, driver_type: podium/powerdns, criteria: [{}]}
",
        "L0 dns.default#shared.db = dns",
    );
    check("{}", "", "");
}

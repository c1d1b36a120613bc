use cassa_tests::{Backend, both_backends, spawn_app};

const REGENERATE: &str = "api/openapi.json is stale: regenerate it with \
     `cargo run -q -p cassa -- openapi > api/openapi.json` and commit the result";

fn committed() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../api/openapi.json");
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn committed_document_matches_the_code() {
    assert!(committed() == cassa::http::openapi_json(), "{REGENERATE}");
}

#[test]
fn document_is_openapi_3_1_and_lists_the_operations() {
    let doc: serde_json::Value = serde_json::from_str(&cassa::http::openapi_json()).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in ["/healthz", "/readyz", "/metrics", "/api/v1/openapi.json"] {
        assert!(doc["paths"].get(path).is_some(), "missing {path}");
    }
    assert!(doc["components"]["schemas"].get("Problem").is_some());
}

async fn served_document_matches_the_committed_one(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.get("/api/v1/openapi.json").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert!(
        response.text().await.unwrap() == committed(),
        "{REGENERATE}"
    );
}

both_backends!(served_document_matches_the_committed_one);

/// Every `$ref` in `value`, with where it was found.
fn references<'a>(value: &'a serde_json::Value, at: &str, found: &mut Vec<(String, &'a str)>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, child) in map {
                match (key.as_str(), child) {
                    ("$ref", serde_json::Value::String(target)) => {
                        found.push((at.to_owned(), target))
                    }
                    _ => references(child, &format!("{at}/{key}"), found),
                }
            }
        }
        serde_json::Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                references(child, &format!("{at}/{i}"), found);
            }
        }
        _ => {}
    }
}

/// A `$ref` to a schema missing from `components` makes generated clients fail to build
/// (`LabelFormat` was one: used by a query struct only, so nothing registered it).
#[test]
fn every_reference_resolves() {
    let doc: serde_json::Value = serde_json::from_str(&cassa::http::openapi_json()).unwrap();
    let mut found = Vec::new();
    references(&doc, "#", &mut found);
    assert!(!found.is_empty(), "the document has references");
    let dangling: Vec<_> = found
        .iter()
        .filter(|(_, target)| {
            target
                .strip_prefix('#')
                .is_none_or(|pointer| doc.pointer(pointer).is_none())
        })
        .collect();
    assert!(dangling.is_empty(), "references to nothing: {dangling:?}");
}

/// The parameters a path template names are exactly its `in: path` parameters: a query
/// struct documented `in: path` (utoipa's default for `IntoParams`) told clients to put
/// `limit` into a path that has no place for it.
#[test]
fn path_parameters_are_the_templates_names() {
    let doc: serde_json::Value = serde_json::from_str(&cassa::http::openapi_json()).unwrap();
    let paths = doc["paths"].as_object().expect("paths");
    let mut wrong = Vec::new();
    for (template, item) in paths {
        let named: std::collections::BTreeSet<&str> = template
            .split('{')
            .skip(1)
            .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
            .collect();
        let shared = item["parameters"].as_array().cloned().unwrap_or_default();
        for method in [
            "get", "put", "post", "delete", "options", "head", "patch", "trace",
        ] {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let own = operation["parameters"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let in_path: std::collections::BTreeSet<&str> = shared
                .iter()
                .chain(own.iter())
                .filter(|p| p["in"] == "path")
                .filter_map(|p| p["name"].as_str())
                .collect();
            for name in in_path.difference(&named) {
                wrong.push(format!("{method} {template}: `{name}` is in: path"));
            }
            for name in named.difference(&in_path) {
                wrong.push(format!(
                    "{method} {template}: {{{name}}} is not an in: path parameter"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

//! Which operations write their own key record, read from where they are declared: the
//! `x-cassa-idempotency: in-transaction` extension of their `#[utoipa::path]` attribute.

use std::{collections::HashSet, sync::Arc};

use axum::http::Method;
use utoipa::openapi::{OpenApi, path::Operation};

/// The OpenAPI extension that declares how an operation holds its key.
pub const EXTENSION: &str = "x-cassa-idempotency";
/// Its value for an operation whose flow claims the key and stores the answer in its own
/// database transactions (`crate::idempotency::KeyRecord`).
pub const IN_TRANSACTION: &str = "in-transaction";

/// The operations (method and route template) declared [`IN_TRANSACTION`].
#[derive(Clone, Debug, Default)]
pub struct InTransaction(Arc<HashSet<(Method, String)>>);

impl InTransaction {
    /// Collects the declarations of every documented operation.
    pub fn from_openapi(doc: &OpenApi) -> Self {
        let mut declared = HashSet::new();
        for (path, item) in &doc.paths.paths {
            let operations = [
                (Method::POST, &item.post),
                (Method::PUT, &item.put),
                (Method::PATCH, &item.patch),
                (Method::DELETE, &item.delete),
            ];
            for (method, operation) in operations {
                if operation.as_ref().is_some_and(is_declared) {
                    declared.insert((method, path.clone()));
                }
            }
        }
        Self(Arc::new(declared))
    }

    /// Whether the operation at `method` and route template `path` is declared.
    pub fn contains(&self, method: &Method, path: &str) -> bool {
        self.0.contains(&(method.clone(), path.to_owned()))
    }

    /// The declared operations, sorted (for tests and the docs).
    pub fn operations(&self) -> Vec<(Method, String)> {
        let mut all: Vec<_> = self.0.iter().cloned().collect();
        all.sort_by(|a, b| (&a.1, a.0.as_str()).cmp(&(&b.1, b.0.as_str())));
        all
    }
}

/// The documented operations, to tell a route's missing method apart from an undocumented route.
#[derive(Clone, Debug, Default)]
pub struct Documented {
    paths: Arc<HashSet<String>>,
    operations: Arc<HashSet<(Method, String)>>,
}

impl Documented {
    /// Every operation of the document.
    pub fn from_openapi(doc: &OpenApi) -> Self {
        let mut paths = HashSet::new();
        let mut operations = HashSet::new();
        for (path, item) in &doc.paths.paths {
            paths.insert(path.clone());
            for (method, operation) in [
                (Method::GET, &item.get),
                (Method::POST, &item.post),
                (Method::PUT, &item.put),
                (Method::PATCH, &item.patch),
                (Method::DELETE, &item.delete),
            ] {
                if operation.is_some() {
                    operations.insert((method, path.clone()));
                }
            }
        }
        Self {
            paths: Arc::new(paths),
            operations: Arc::new(operations),
        }
    }

    /// Whether `method` is one the documented route template `path` does not have: the router
    /// answers 405 for it, which must not wait behind an Idempotency-Key check.
    pub fn lacks_method(&self, method: &Method, path: &str) -> bool {
        self.paths.contains(path) && !self.operations.contains(&(method.clone(), path.to_owned()))
    }
}

fn is_declared(operation: &Operation) -> bool {
    operation
        .extensions
        .as_ref()
        .and_then(|extensions| extensions.get(EXTENSION))
        .is_some_and(|value| value == IN_TRANSACTION)
}

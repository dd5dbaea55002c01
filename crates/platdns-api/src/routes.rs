//! A router that remembers its operations. Every API route is added through
//! [`Routes`], so the list of (method, path) the router answers is data, and
//! the OpenAPI documents are checked against it (`tests/openapi.rs`): neither
//! can name an operation the other lacks.

use crate::AppState;
use axum::handler::Handler;
use axum::routing::{delete, get, patch, post, put, MethodRouter};
use axum::Router;

pub struct Routes {
    router: Router<AppState>,
    ops: Vec<(&'static str, &'static str)>,
}

impl Routes {
    pub fn new() -> Routes {
        Routes {
            router: Router::new(),
            ops: Vec::new(),
        }
    }

    fn add(mut self, method: &'static str, path: &'static str, m: MethodRouter<AppState>) -> Routes {
        // axum merges method routers added for the same path.
        self.router = self.router.route(path, m);
        self.ops.push((method, path));
        self
    }

    pub fn get<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, h: H) -> Routes {
        self.add("GET", path, get(h))
    }

    pub fn post<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, h: H) -> Routes {
        self.add("POST", path, post(h))
    }

    pub fn patch<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, h: H) -> Routes {
        self.add("PATCH", path, patch(h))
    }

    pub fn put<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, h: H) -> Routes {
        self.add("PUT", path, put(h))
    }

    pub fn delete<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, h: H) -> Routes {
        self.add("DELETE", path, delete(h))
    }

    pub fn merge(mut self, other: Routes) -> Routes {
        self.router = self.router.merge(other.router);
        self.ops.extend(other.ops);
        self
    }

    /// (method, path) of every operation, paths relative to the API's prefix.
    pub fn operations(&self) -> &[(&'static str, &'static str)] {
        &self.ops
    }

    pub fn into_router(self) -> Router<AppState> {
        self.router
    }
}

impl Default for Routes {
    fn default() -> Routes {
        Routes::new()
    }
}

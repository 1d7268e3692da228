//! The catalog section of the console (being built).

use crate::pages::PageError;
use crate::{Console, Ctx};
use http::Method;
use lambda_http::{Body, Response};

/// This section's templates.
pub(crate) const TEMPLATES: &[(&str, &str)] = &[];

impl Console {
    /// `/catalog/…`.
    pub(crate) async fn catalog_routes(
        &self,
        ctx: &Ctx<'_>,
        method: &Method,
        rest: &[&str],
    ) -> Result<Response<Body>, PageError> {
        let _ = (ctx, method, rest);
        Err(PageError::NotFound)
    }
}

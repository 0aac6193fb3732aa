//! Source locations: a value with the line and column of the YAML node it
//! came from, and the plain `Loc` that later phases carry.

use std::ops::Deref;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A 1-based line and column in a scenario file; `0:0` when unknown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Loc {
    pub line: u32,
    pub column: u32,
}

impl Loc {
    pub fn is_known(self) -> bool {
        self.line > 0
    }
}

impl std::fmt::Display for Loc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

impl From<serde_saphyr::Location> for Loc {
    fn from(l: serde_saphyr::Location) -> Self {
        Loc { line: u32::try_from(l.line()).unwrap_or(u32::MAX), column: u32::try_from(l.column()).unwrap_or(u32::MAX) }
    }
}

/// A deserialized value with its location. Transparent for serde and for the
/// JSON Schema, so editors see the plain value type.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct Sp<T>(serde_saphyr::Spanned<T>);

impl<T> Sp<T> {
    pub fn loc(&self) -> Loc {
        self.0.referenced.into()
    }
    pub fn value(&self) -> &T {
        &self.0.value
    }
    pub fn into_value(self) -> T {
        self.0.value
    }
}

impl<T> Deref for Sp<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0.value
    }
}

/// Equality and hashing look at the value only, so spanned names work as
/// map keys and are found by `&str`.
impl<T: PartialEq> PartialEq for Sp<T> {
    fn eq(&self, other: &Self) -> bool {
        self.0.value == other.0.value
    }
}

impl<T: Eq> Eq for Sp<T> {}

impl<T: std::hash::Hash> std::hash::Hash for Sp<T> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.value.hash(state);
    }
}

impl std::borrow::Borrow<str> for Sp<String> {
    fn borrow(&self) -> &str {
        &self.0.value
    }
}

impl std::fmt::Display for Sp<String> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.value)
    }
}

impl<T: JsonSchema> JsonSchema for Sp<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> std::borrow::Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
}

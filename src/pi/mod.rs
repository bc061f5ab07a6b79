//! Personal-information (PI) type ids and value validators.
//!
//! Owns the contract ids of `pi-taxonomy.md` (PI types, PI categories, the 39
//! app categories of 《常见类型移动互联网应用程序必要个人信息范围规定》 with
//! their necessary PI) and the pure format/check-digit validators of
//! `regulation-cn.md` §6.
//!
//! Takes string or byte slices; emits booleans, small fixed-size arrays and
//! `'static` table entries. Nothing here allocates, reads the clock or touches
//! files, so the detector may call it on the hot path (after a prefilter hit).
//! This is a leaf module: it must not depend on any other module of the crate.

pub mod taxonomy;
pub mod validator;

pub use taxonomy::{
    app_categories, app_category, builtin_types, pi_type, AppCategory, PiTypeInfo, CATEGORY_IDS,
};

//! Key rollovers (RFC 7583), placeholder replaced below.
pub struct KeyState;
pub struct KskRollover;
pub struct RolloverTimings;
pub struct Step;
pub struct ZskRollover;

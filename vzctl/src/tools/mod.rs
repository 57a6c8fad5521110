//! The tools beside vzctl that the library serves: vzlist (its binary is in this crate) and
//! vzpid (its own crate).

pub mod vzlist;
pub mod vzpid;

//! The routes by concern, each module documenting its own and handing them to the router
//! (`api`) through its `routes()`.

pub(crate) mod admin;
pub(crate) mod dev;
pub(crate) mod events;
pub(crate) mod log;
pub(crate) mod me;
pub(crate) mod sign_in;

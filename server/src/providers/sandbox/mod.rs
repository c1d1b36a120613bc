//! The sandbox payment provider: a simulated remote PSP reached over HTTP.

pub mod psp;

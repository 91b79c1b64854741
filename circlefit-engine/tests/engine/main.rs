//! The engine's tests: one binary (strategies, schedules, passes, threads, pinned results).

// These tests check exactness: comparing floats bit for bit is the point.
#![allow(clippy::float_cmp)]

mod common;
mod parallel;
mod pinned;
mod refine;
mod schedule;
mod searches;
mod settings;
mod smooth;
mod strategies;

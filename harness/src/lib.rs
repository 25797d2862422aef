//! torture engine (work in progress).

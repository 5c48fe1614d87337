pub mod gift;
pub mod grading;

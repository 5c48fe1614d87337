pub mod gift;

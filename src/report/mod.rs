//! From records to what people read: tables, the writers of one experiment's records and
//! figures, and the seminar report (HTML and Markdown).

pub mod doc;
pub mod figures;
pub mod modern;
pub mod observations;
pub mod seminar;
pub mod tables;

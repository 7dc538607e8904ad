"""The screens of the terminal UI: the main screen's pages (home, cases, consult,
education, sync, stats), a case with its timeline, and the forms."""

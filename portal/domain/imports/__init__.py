"""Invoice batch import: read a spreadsheet, map its columns, validate, then commit."""

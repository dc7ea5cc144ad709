"""Shared plumbing of the services: errors, transactions, rows, validation, documents, references, pages."""

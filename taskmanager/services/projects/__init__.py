"""Project configuration: importing it from a document or a repository."""

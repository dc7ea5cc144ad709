"""Reference data tasks name: tags and templates."""

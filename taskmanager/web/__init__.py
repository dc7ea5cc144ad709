"""Server-rendered web UI (Jinja + htmx): calls services, never the models directly."""
